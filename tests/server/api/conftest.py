"""The API tests' app with a relying party (passkeys), and a user holding a passkey."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.webauthn_register import begin_registration, finish_registration
from securebox_auth.identity import Principal
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_server.api.keys import token_keys
from securebox_server.app import create_app
from securebox_server.settings import Settings

RP = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
PasskeyApp = tuple[TestClient, Securebox, FixedClock]


@pytest.fixture
def passkey_app(tmp_path: Path, migrated_sqlite: Path) -> Iterator[PasskeyApp]:
    shutil.copyfile(migrated_sqlite, tmp_path / "server.db")
    url = f"sqlite:///{tmp_path}/server.db"
    settings = Settings(
        database_url=url, public_url="http://testserver", demo=True, rate_limits_enabled=False
    )
    keys, clock = DerivedKeys.generate(), FixedClock()
    store = open_sql_store(url, audit_key=keys.audit_key(), migrate=False)
    box = Securebox.from_policy(
        Path(settings.policy),
        store=store,
        keys=keys,
        clock=clock,
        argon2=PROFILE_TESTING,
        relying_party=RP,
        token_keys=token_keys(keys.master),
    )
    app = create_app(settings, securebox=box, keys=keys)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        yield client, box, clock


def enrol_passkey(box: Securebox, clock: FixedClock, who: Principal) -> SoftAuthenticator:
    authenticator = SoftAuthenticator()
    options, ceremony, owned = begin_registration(
        RP, who, None, now=clock.now(), user_name=who.key, display_name="Jeanne"
    )
    done = finish_registration(
        RP, ceremony, owned, who, authenticator.create(options), now=clock.now()
    )
    assert done.passkeys is not None
    box.factors.put_state(who, fc.PASSKEYS, "default", fc.passkeys_to_dict(done.passkeys))
    clock.advance(timedelta(seconds=30))
    return authenticator
