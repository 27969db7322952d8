"""The Python example of ``docs/api-clients.md`` runs: it gets a token from the app."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.server.clients.helpers import clients_of
from tests.server.conftest import AppMaker

DOC = Path(__file__).parents[3] / "docs" / "api-clients.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_documented_example_gets_a_token(
    make_app: AppMaker, tmp_path: Path, monkeypatch: Any
) -> None:
    make_key, get_token = _blocks()
    monkeypatch.chdir(tmp_path)
    exec(compile(make_key, "make_key", "exec"), {})  # noqa: S102 - our own documentation
    client, _, clock = make_app()
    clock.at = datetime.now(UTC)  # the example signs with the real time
    jwks = json.loads((tmp_path / "sender-jwks.json").read_text())
    sender = clients_of(client).add_sender("bank", "Back office", jwks=jwks)
    namespace: dict[str, Any] = {"__name__": "example"}
    exec(compile(get_token, "get_token", "exec"), namespace)  # noqa: S102
    key = namespace["ECKey"].import_key(json.loads((tmp_path / "sender-key.json").read_text()))
    token = namespace["get_token"](client, "http://testserver", sender.client_id, key)
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "documents:publish documents:status"
