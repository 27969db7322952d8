"""A database that is briefly busy is contention, not a verdict: the shell waits and tries
again (shell/retry.py) instead of answering. Before the retry helper, the assertion
verifier took any lost commit for a replay and refused a fresh token."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from securebox_auth.clock import FixedClock
from securebox_auth.identity import Principal
from securebox_auth.policy.engine import complete_step_up, decide_operation
from securebox_auth.policy.linking import Money, OperationRequest, Payment
from securebox_auth.policy.model import PSD2_DEFAULT
from securebox_auth.policy.session import Session, open_session
from securebox_auth.shell.token_verifier import ASSERTION_JTI, AssertionVerifier
from securebox_auth.stores.sql.engine import DatabaseSettings, create_engine
from securebox_auth.stores.sql.store import SqlStore
from securebox_auth.tokens.assertions import TokenKeys, issue_assertion
from securebox_auth.tokens.claims import TokenReplayed
from securebox_auth.tokens.requirement import AssertionRequirement
from tests.stores.conftest import AUDIT_KEY, sqlite_copy
from tests.support import NOW

P = Principal.parse("123456789", "01")
TRANSFER = OperationRequest(
    "sepa_instant_transfer", payment=Payment(Money(15000, "EUR"), "FR7630006000011234567890189")
)


def _stepped_up() -> Session:
    session = open_session(P, "web", ["confidential_code"], NOW)
    decision, session = decide_operation(PSD2_DEFAULT, session, TRANSFER, now=NOW)
    challenge = decision.challenge  # type: ignore[union-attr]
    decision, session = complete_step_up(
        PSD2_DEFAULT, session, challenge, principal=P, methods=["cap_sign"], now=NOW
    )
    assert decision.allowed
    return session


def _hold_write_lock(engine: Engine, seconds: float, taken: threading.Event) -> None:
    """Another connection holds SQLite's single writer lock for ``seconds``."""
    holder = engine.execution_options(securebox_write=True)  # SQLite: BEGIN IMMEDIATE
    with holder.connect() as conn, conn.begin() as held:
        conn.exec_driver_sql("SELECT version FROM audit_chains WHERE chain = ''")
        taken.set()
        time.sleep(seconds)
        held.rollback()


def test_a_busy_database_is_not_taken_for_a_replayed_assertion(
    sqlite_template: Path, tmp_path: Path
) -> None:
    url = sqlite_copy(sqlite_template, tmp_path)
    engine = create_engine(DatabaseSettings(url=url, busy_timeout_ms=20))
    blocker = create_engine(url)
    try:
        keys = TokenKeys.generate("t1")
        store = SqlStore(engine, audit_key=AUDIT_KEY)
        verifier = AssertionVerifier(
            keys=keys, issuer="https://auth.example", audience="api", store=store,
            clock=FixedClock(NOW),
        )  # fmt: skip
        token = issue_assertion(
            _stepped_up(), keys=keys, issuer="https://auth.example", audience="api", now=NOW
        )
        requirement = AssertionRequirement.for_operation(PSD2_DEFAULT, TRANSFER)
        taken = threading.Event()
        holder = threading.Thread(target=_hold_write_lock, args=(blocker, 0.15, taken))
        holder.start()
        assert taken.wait(5)
        verified = verifier.verify(token, subject=P, requirement=requirement)
        holder.join()
        assert [item for item, _ in store.factor_states(P, ASSERTION_JTI)] == [verified.jti]
        with pytest.raises(TokenReplayed):  # a real replay is still one
            verifier.verify(token, subject=P, requirement=requirement)
        assert [s.event.outcome for s in store.audit_log()] == ["success", "refused"]
    finally:
        engine.dispose()
        blocker.dispose()
