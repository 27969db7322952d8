"""Code that runs in the child processes of the assertion single-use test (``spawn``): each
child builds its own engine, store and :class:`AssertionVerifier` from plain values, as a
server process would, and verifies the same assertion as every other child after the
barrier."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from typing import Any, Final

from securebox_auth.clock import FixedClock
from securebox_auth.errors import ConcurrentUpdate
from securebox_auth.identity import Principal
from securebox_auth.policy.linking import Money, OperationRequest, Payment
from securebox_auth.policy.model import PSD2_DEFAULT
from securebox_auth.shell.token_verifier import AssertionVerifier
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from securebox_auth.tokens.assertions import TokenKeys
from securebox_auth.tokens.claims import TokenError
from securebox_auth.tokens.requirement import AssertionRequirement

NOW: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ISSUER: Final = "https://auth.bank.example"
AUDIENCE: Final = "payments-api"
PAYMENT: Final = Payment(Money(15000, "EUR"), "FR7630006000011234567890189")
REQUEST: Final = OperationRequest("sepa_instant_transfer", payment=PAYMENT)


@dataclass(frozen=True, slots=True)
class Setup:
    url: str
    audit_key: bytes
    jwks: dict[str, Any]
    subject: str


def verify(setup: Setup, worker: int, tokens: list[str], barrier: Barrier, results: Any) -> None:
    engine = create_engine(setup.url)
    verifier = AssertionVerifier(
        keys=TokenKeys.from_jwks(setup.jwks),
        issuer=ISSUER,
        audience=AUDIENCE,
        store=SqlStore(engine, audit_key=setup.audit_key),
        clock=FixedClock(NOW),
    )
    requirement = AssertionRequirement.for_operation(PSD2_DEFAULT, REQUEST)
    subject = Principal.from_key(setup.subject)
    try:
        for index, token in enumerate(tokens):
            barrier.wait(timeout=120)
            try:
                verifier.verify(token, subject=subject, requirement=requirement)
                outcome = "accepted"
            except TokenError as exc:
                outcome = exc.code
            except ConcurrentUpdate:
                outcome = "conflict"
            results.put((index, worker, outcome))
    finally:
        engine.dispose()
