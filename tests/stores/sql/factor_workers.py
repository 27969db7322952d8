"""Code that runs in child processes of the factor concurrency tests (``spawn``).

Each child builds its own engine, store and :class:`FactorService` from plain values, as a
server process would, and submits the same code as every other child after the barrier.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from typing import Any, Final

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.errors import ConcurrentUpdate
from securebox_auth.factors.certificate import Revocation
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl, load_certificate
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.shell.factors import FactorService
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore

#: The instant the codes are submitted at (a frozen clock: the TOTP step never moves).
FROZEN: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
#: Never blocks within a test: every failure is counted, none refused.
RULES: Final = LockoutRules(max_failures=100)
#: The audience of the certificate challenges.
AUDIENCE: Final = "https://portal.example.test"
#: The relying party of the passkey rounds (the software authenticator's defaults).
RP: Final = RelyingParty(
    id="bank.example", name="Bank", origins=frozenset({"https://bank.example"})
)


@dataclass(frozen=True, slots=True)
class Setup:
    url: str
    audit_key: bytes
    pepper: bytes
    imk: bytes
    wrap_key: bytes
    #: The certificate rounds' trust anchor (DER) and CRLs (DER CRL, DER issuer): plain
    #: bytes, from which each process builds its own TrustSettings and Revocation.
    cert_root: bytes = b""
    cert_crls: tuple[tuple[bytes, bytes], ...] = ()


def cert_checks(setup: Setup) -> tuple[TrustSettings, Revocation]:
    """The trust settings and revocation evidence a caller passes to verify_certificate."""
    crls = CrlCache()
    for crl, issuer in setup.cert_crls:
        crls = add_crl(crls, crl, load_certificate(issuer), now=FROZEN)
    return TrustSettings(anchors=(load_certificate(setup.cert_root),)), Revocation(crls=crls)


def hasher(setup: Setup) -> Argon2CodeHasher:
    return Argon2CodeHasher(StaticKeyring({"k1": setup.pepper}, "k1"), PROFILE_TESTING)


def wrapping(setup: Setup) -> StaticKeyring:
    """The TOTP seed wrapping keys (derived from the setup's wrap key, so not the issuer's)."""
    return StaticKeyring({"w1": hashlib.sha256(b"totp-wrap" + setup.wrap_key).digest()}, "w1")


def issuer(setup: Setup) -> SoftwareIssuerKeys:
    return SoftwareIssuerKeys({"imk1": setup.imk}, "imk1", setup.wrap_key)


@dataclass(frozen=True, slots=True)
class Task:
    """One contended submission: ``kind`` is ``totp``, ``oob``, ``cap``, ``passkey`` or
    ``cert``."""

    kind: str
    round: int
    principal: tuple[str, str]
    args: tuple[Any, ...]


def race(setup: Setup, worker: int, tasks: list[Task], barrier: Barrier, results: Any) -> None:
    engine = create_engine(setup.url)
    store = SqlStore(engine, audit_key=setup.audit_key)
    service = FactorService(
        store,
        clock=FixedClock(FROZEN + timedelta(seconds=20)),
        lockout_rules=RULES,
        hasher=hasher(setup),
        issuer=issuer(setup),
        relying_party=RP,
        wrapping=wrapping(setup),
    )
    checks = cert_checks(setup) if setup.cert_root else None
    try:
        for task in tasks:
            barrier.wait(timeout=120)
            results.put((task.kind, task.round, worker, _run(service, task, checks)))
    finally:
        engine.dispose()


def _run(
    service: FactorService, task: Task, checks: tuple[TrustSettings, Revocation] | None
) -> str:
    principal = Principal.parse(*task.principal)
    try:
        if task.kind == "totp":
            (code,) = task.args
            result = service.verify_totp(principal, code)
        elif task.kind == "oob":
            challenge_id, code = task.args
            result = service.verify_oob(
                principal, challenge_id, code, purpose="login", reference="attempt"
            )
        elif task.kind == "cap":
            card_id, challenge_id, code = task.args
            result = service.verify_cap(principal, card_id, code, challenge_id=challenge_id)
        elif task.kind == "passkey":
            ceremony_id, response = task.args
            result = service.finish_passkey(principal, ceremony_id, response)
        elif task.kind == "cert":
            assert checks is not None
            challenge_id, signature = task.args
            trust, revocation = checks
            result = service.verify_certificate(
                principal,
                challenge_id,
                signature,
                trust=trust,
                revocation=revocation,
                purpose="login",
                audience=AUDIENCE,
            )
        else:  # pragma: no cover
            raise AssertionError(task.kind)
    except ConcurrentUpdate:  # many lost races in a row: nothing changed, as a refusal
        return "gave_up"
    return result.outcome.value
