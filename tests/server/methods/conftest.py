"""A server on SQLite with the demo's CAP card bound to user 04 (the real binding: a first
Identify code computed by the reader emulator in front of the software card)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.identity import Principal
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_server.app import create_app
from securebox_server.demo_cap import seed_cap_card
from securebox_server.settings import Settings
from securebox_server.throttle import RateLimits
from securebox_server.wiring import DEMO_ISSUER_PASSPHRASE, build_securebox
from tests.server.conftest import CLIENT, token

CAP_USER = "04"
CAP_CODE = "63918274"
PIN_LINE = re.compile(r"PIN ([0-9]{4})")
DISPLAY = re.compile(r'id="reader-code"[^>]*>([0-9]{8})<')


@dataclass
class CapServer:
    client: TestClient
    box: Securebox
    clock: FixedClock
    cards: Path
    pin: str

    def reader(self, mode: str = "identify", challenge: str = "", pin: str | None = None):  # type: ignore[no-untyped-def]
        """Press the virtual reader's button (the demo page) and return the response."""
        page = self.client.get("/demo/cap-reader")
        assert page.status_code == 200, page.text
        form = {
            "card": "demo-cap-card",
            "pin": self.pin if pin is None else pin,
            "mode": mode,
            "challenge": challenge,
            "csrf_token": token(page.text),
        }
        return self.client.post("/demo/cap-reader", data=form)

    def code(self, mode: str = "identify", challenge: str = "") -> str:
        shown = self.reader(mode, challenge)
        assert shown.status_code == 200, shown.text
        found = DISPLAY.search(shown.text)
        assert found is not None, shown.text
        return found.group(1)


def cap_settings(tmp_path: Path, *, demo: bool = True) -> Settings:
    issuer_file = tmp_path / "issuer-keys.json"
    if not issuer_file.exists():  # a cheap scrypt for tests; the file says which
        SoftwareIssuerKeys.generate().save(issuer_file, DEMO_ISSUER_PASSPHRASE, scrypt_n=2**10)
    return Settings(
        database_url=f"sqlite:///{tmp_path}/server.db",
        public_url="http://testserver",
        demo=demo,
        master_key_file=None if demo else tmp_path / "master.key",
        cap_issuer_file=issuer_file,
        cap_issuer_passphrase=None if demo else DEMO_ISSUER_PASSPHRASE,
        demo_cards_dir=tmp_path / "cards" if demo else None,
    )


@pytest.fixture
def cap_server(tmp_path: Path, migrated_sqlite: Path) -> Iterator[CapServer]:
    yield from _server(tmp_path, migrated_sqlite, None)


def _server(tmp_path: Path, template: Path, limits: RateLimits | None) -> Iterator[CapServer]:
    shutil.copyfile(template, tmp_path / "server.db")
    settings = cap_settings(tmp_path)
    clock, keys = FixedClock(), DerivedKeys.generate()
    box = build_securebox(settings, clock=clock, argon2=PROFILE_TESTING, keys=keys)
    principal = Principal.parse(CLIENT, CAP_USER)
    line = seed_cap_card(box, settings, Operator("back-office"), principal, CAP_CODE)
    assert line is not None
    pin = PIN_LINE.search(line)
    assert pin is not None
    app = create_app(settings, securebox=box, keys=keys, limits=limits)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        assert settings.demo_cards_dir is not None
        yield CapServer(client, box, clock, settings.demo_cards_dir, pin.group(1))
