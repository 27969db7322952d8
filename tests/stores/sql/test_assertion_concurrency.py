"""A grant-carrying assertion is accepted once across processes.

Eight OS processes (``spawn``), each with its own engine and
:class:`~securebox_auth.shell.token_verifier.AssertionVerifier`, are released together by a
barrier and verify the same assertion for a single-use, dynamically linked payment, on
SQLite and on PostgreSQL: exactly one is accepted, the seven others are refused as replays
(``token_replayed``), and the audit chain records one consumption per assertion.
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Final

import pytest

from securebox_auth.identity import Principal
from securebox_auth.policy.engine import complete_step_up, decide_operation
from securebox_auth.policy.model import PSD2_DEFAULT
from securebox_auth.policy.session import open_session
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.token_verifier import ASSERTION_JTI
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from securebox_auth.tokens.assertions import TokenKeys, issue_assertion
from tests.stores.sql import assertion_workers as aw
from tests.stores.sql.processes import run_workers

WORKERS: Final = 8
ROUNDS: Final = 4
P: Final = Principal.parse("123456789", "01")


def _assertion(keys: TokenKeys, round_: int) -> str:
    """A step-up of its own each round (its own grant: the shell names each one)."""
    session = open_session(P, "web", ["confidential_code"], aw.NOW)
    decision, session = decide_operation(PSD2_DEFAULT, session, aw.REQUEST, now=aw.NOW)
    challenge = decision.challenge  # type: ignore[union-attr]
    decision, session = complete_step_up(
        PSD2_DEFAULT, session, challenge, principal=P, methods=["cap_sign"], now=aw.NOW,
        grant_id=f"grant-{round_}",
    )  # fmt: skip
    assert decision.allowed
    return issue_assertion(session, keys=keys, issuer=aw.ISSUER, audience=aw.AUDIENCE, now=aw.NOW)


@pytest.mark.slow
def test_a_grant_carrying_assertion_is_accepted_once_by_eight_processes(
    database_url: str,
) -> None:
    keys = TokenKeys.generate("t1", "EdDSA")
    setup = aw.Setup(database_url, secrets.token_bytes(32), keys.jwks(), P.key)
    tokens = [_assertion(keys, n) for n in range(ROUNDS)]
    found: list[tuple[int, int, str]] = run_workers(
        aw.verify, lambda w: (setup, w, tokens), workers=WORKERS, expected=WORKERS * ROUNDS
    )
    for index in range(ROUNDS):
        counted = Counter(outcome for i, _, outcome in found if i == index)
        assert counted == Counter({"accepted": 1, "token_replayed": WORKERS - 1}), counted
    engine = create_engine(database_url)
    try:
        store = SqlStore(engine, audit_key=setup.audit_key)
        assert len(store.factor_states(P, ASSERTION_JTI)) == ROUNDS
        audit = [s for s in store.audit_log() if s.event.action == "assertion.consume"]
        outcomes = Counter(s.event.outcome for s in audit)
        assert outcomes["success"] == ROUNDS
        full = list(store.audit_log())
        assert verify_audit_chains(setup.audit_key, store).total == len(full)
    finally:
        engine.dispose()
