"""A library instance on a copy of a migrated SQLite template, a passkey enrolled the way
a browser would, and a certificate of a test PKI enrolled (the API and step-up test
servers share them)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.factors.certificate import enrol_certificate
from securebox_auth.factors.passkey_model import RelyingParty
from securebox_auth.factors.webauthn_register import begin_registration, finish_registration
from securebox_auth.identity import Principal
from securebox_auth.shell.answers import CertificateSettings
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_auth.testing.pki import Issued, TestPki
from securebox_server.settings import Settings
from securebox_server.wiring import monotonic_clock

__all__ = ["Built", "build_box", "enrol_client_certificate", "enrol_passkey"]


@dataclass(frozen=True, slots=True)
class Built:
    settings: Settings
    box: Securebox
    clock: FixedClock
    keys: DerivedKeys
    url: str


def build_box(
    tmp_path: Path,
    template: Path,
    settings: dict[str, Any],
    keys: DerivedKeys | None = None,
    **options: Any,
) -> Built:
    """A demo server's settings (``settings``: more fields) and its library on a copy of
    ``template``, on a fixed clock with fast argon2id; ``options``: more library parts.
    The library reads the fixed clock through the server's clock that never goes back
    (``monotonic_clock``, as ``build_securebox`` does): moving ``clock`` back does not move
    the server's time back (ADR 0042)."""
    shutil.copyfile(template, tmp_path / "server.db")
    url = f"sqlite:///{tmp_path}/server.db"
    configured = Settings(database_url=url, **{"demo": True, **settings})
    keys, clock = keys or DerivedKeys.generate(), FixedClock()
    store = open_sql_store(url, audit_keys=keys.audit_keyring(), migrate=False)
    box = Securebox.from_policy(
        Path(configured.policy),
        store=store,
        keys=keys,
        clock=monotonic_clock(configured, store, clock),
        argon2=PROFILE_TESTING,
        **options,
    )
    return Built(configured, box, clock, keys, url)


def enrol_passkey(
    box: Securebox, rp: RelyingParty, who: Principal, clock: FixedClock
) -> SoftAuthenticator:
    """Register a passkey of a new software authenticator for ``who``."""
    authenticator = SoftAuthenticator(origin=min(rp.origins), rp_id=rp.id)
    options, ceremony, owned = begin_registration(
        rp, who, None, now=clock.now(), user_name=who.key, display_name="Jeanne"
    )
    done = finish_registration(
        rp, ceremony, owned, who, authenticator.create(options), now=clock.now()
    )
    assert done.passkeys is not None
    box.factors.put_state(who, fc.PASSKEYS, "default", fc.passkeys_to_dict(done.passkeys))
    return authenticator


def enrol_client_certificate(
    box: Securebox,
    who: Principal,
    pki: TestPki,
    issued: Issued,
    certificates: CertificateSettings,
    now: datetime,
) -> None:
    """Enrol ``issued``, a client certificate of ``pki``, as ``who``'s certificate (its
    chain and revocation checked against ``certificates`` at ``now``)."""
    credential, _ = enrol_certificate(
        who,
        issued.pem,
        intermediates=[pki.intermediate.pem],
        trust=certificates.trust,
        revocation=certificates.revocation,
        now=now,
    )
    box.factors.put_state(who, fc.CERTIFICATE, "default", fc.cert_credential_to_dict(credential))
