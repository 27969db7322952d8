"""The API tests' app with a relying party (passkeys), and a user holding a passkey."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.identity import Principal
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_server.api.keys import token_keys
from securebox_server.app import create_app
from tests.server.boxes import build_box
from tests.server.boxes import enrol_passkey as enrol

RP = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
PasskeyApp = tuple[TestClient, Securebox, FixedClock]


@pytest.fixture
def passkey_app(tmp_path: Path, migrated_sqlite: Path) -> Iterator[PasskeyApp]:
    keys = DerivedKeys.generate()
    built = build_box(
        tmp_path,
        migrated_sqlite,
        {"public_url": "http://testserver", "rate_limits_enabled": False},
        keys,
        relying_party=RP,
        token_keys=token_keys(keys.master),
    )
    app = create_app(built.settings, securebox=built.box, keys=built.keys)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        yield client, built.box, built.clock


def enrol_passkey(box: Securebox, clock: FixedClock, who: Principal) -> SoftAuthenticator:
    authenticator = enrol(box, RP, who, clock)
    clock.advance(timedelta(seconds=30))
    return authenticator
