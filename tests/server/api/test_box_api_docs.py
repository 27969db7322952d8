"""The examples of ``docs/box-api.md`` run as written (their Python blocks, executed in
order) against the real app: a token, a publication retried with its key, a receiver's
poll of the feed with the digest checked."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey

from tests.server.api.box_app import *  # noqa: F403 (fixtures)
from tests.server.api.box_app import BoxApi, pdf
from tests.server.box.conftest import C1, C2
from tests.server.clients.helpers import Registered

PAGE = Path(__file__).resolve().parents[3] / "docs" / "box-api.md"


def examples() -> dict[str, Any]:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) == 3
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(blocks), str(PAGE), "exec"), namespace)  # noqa: S102 - our own docs
    return namespace


def key_of(registered: Registered) -> ECKey:
    return ECKey.import_key({**registered.key.as_dict(private=True), "kid": registered.kid})


def test_the_examples_run(box_api: BoxApi) -> None:
    ns = examples()
    http, now = box_api.client, box_api.world.clock.now()
    sender = ns["access_token"](
        http, box_api.sender.client_id, key_of(box_api.sender), "documents:publish", now.timestamp()
    )
    body = pdf(60)
    args = {"type_": "payslip", "label": "Payslip", "issued_at": now.isoformat()}
    done = ns["publish"](http, sender, body, companies=[C1.value, C2.value], key="doc-1", **args)
    assert [r["status"] for r in done["results"]] == ["published", "published"]
    assert (
        ns["publish"](http, sender, body, companies=[C1.value, C2.value], key="doc-1", **args)
        == done
    )
    receiver = ns["access_token"](
        http,
        box_api.receiver_c1.client_id,
        key_of(box_api.receiver_c1),
        "events:read documents:read",
        now.timestamp(),
    )
    bodies, after = ns["poll"](http, receiver, 0)
    assert bodies == [body]
    again, later = ns["poll"](http, receiver, after)  # the download's "document.read"
    assert (again, later) == ([], after + 1)
    assert ns["poll"](http, receiver, later) == ([], later)
