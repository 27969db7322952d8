"""CAP's settings (the issuer key file, the demo cards directory), the page without issuer
keys, and the rate limits the CAP pages hit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from securebox_auth.errors import ConfigurationError
from securebox_auth.identity import Principal
from securebox_server.settings import Settings, load_settings
from securebox_server.throttle import RateLimited
from securebox_server.wiring import load_cap_issuer
from tests.server.conftest import CLIENT, AppMaker, identify, open_user, token
from tests.server.methods.conftest import CAP_USER, CapServer, _server


def test_settings_read_the_cap_keys(tmp_path: Path) -> None:
    env = {
        "SECUREBOX_DEMO": "true",
        "SECUREBOX_CAP_ISSUER_FILE": str(tmp_path / "issuer.json"),
        "SECUREBOX_DEMO_CARDS_DIR": str(tmp_path / "cards"),
    }
    settings = load_settings(env)
    assert settings.cap_issuer_file == tmp_path / "issuer.json"
    assert settings.demo_cards_dir == tmp_path / "cards"
    assert "passphrase" not in repr(Settings(demo=True, cap_issuer_passphrase="secret-words"))
    with pytest.raises(ConfigurationError, match="cap_issuer_passphrase"):
        Settings(master_key_file=tmp_path / "m.key", cap_issuer_file=tmp_path / "issuer.json")
    with pytest.raises(ConfigurationError, match="demo mode only"):
        load_settings({**env, "SECUREBOX_DEMO": "false", "SECUREBOX_MASTER_KEY_FILE": "m.key"})


def test_a_wrong_passphrase_is_a_configuration_error(tmp_path: Path) -> None:
    demo = Settings(demo=True, cap_issuer_file=tmp_path / "issuer.json")
    assert load_cap_issuer(demo) is not None  # generated under the demo passphrase
    wrong = Settings(
        master_key_file=tmp_path / "m.key",
        cap_issuer_file=tmp_path / "issuer.json",
        cap_issuer_passphrase="not the demo one",
    )
    with pytest.raises(ConfigurationError, match="passphrase"):
        load_cap_issuer(wrong)
    assert load_cap_issuer(Settings(demo=True)) is None


def test_without_issuer_keys_there_are_no_cap_pages(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    identify(client)
    page = client.get("/login/cap")
    assert page.status_code == 404
    assert 'action="/login/cap"' not in page.text
    assert client.get("/login/cap/respond").status_code == 404


class RefuseCap:
    """Refuses CAP hits per account, lets the rest through; records what it was asked."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def hit(self, name: str, key: str) -> None:
        self.seen.append((name, key))
        if name.startswith("login.cap") and key.startswith("account:"):
            raise RateLimited(retry_after=90)


@pytest.fixture
def limited(tmp_path: Path, migrated_sqlite: Path) -> Iterator[tuple[CapServer, RefuseCap]]:
    limits = RefuseCap()
    for server in _server(tmp_path, migrated_sqlite, limits):
        yield server, limits


def test_cap_pages_hit_their_limits(limited: tuple[CapServer, RefuseCap]) -> None:
    server, limits = limited
    identify(server.client, user=CAP_USER)
    page = server.client.get("/login/cap")
    refused = server.client.post(
        "/login/cap", data={"code": "12345678", "csrf_token": token(page.text)}
    )
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "90"
    assert ("login.cap", "ip:testclient") in limits.seen
    assert ("login.cap", f"account:123456789:{CAP_USER}") in limits.seen
    assert server.client.get("/login/cap/respond").status_code == 429
    principal = Principal.parse(CLIENT, CAP_USER)
    assert server.box.store.get_lockout(principal).value.failures == 0
