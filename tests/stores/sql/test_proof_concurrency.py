"""A company proof is checked and counted in one compare-and-swap, across processes.

Eight OS processes (``spawn``), each with its own engine and :class:`EntitlementService`,
are released together by a barrier, on SQLite and on PostgreSQL:

* ``last_try``: the principal has one try left (4 failures of 5); every process submits a
  wrong company proof: exactly one is checked (and counted, blocking the principal); the
  seven others are refused as blocked, neither checked nor counted (issue 11: all eight were
  checked);
* ``counting``: every process submits 5 wrong proofs for the same principal (no block
  within the test): 40 failures are stored.

The stored lockout states and the audit records equal those of the same attempts made one
after the other on the reference store.
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any, Final

import pytest

from securebox_auth.entitlements.accounts import Operator
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.identity import Principal
from securebox_auth.policy.session import open_session
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import AuthStore, OpenSession
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from tests.stores.sql import proof_workers as pw
from tests.stores.sql.processes import run_workers

WORKERS: Final = 8
ROUNDS: Final = 10
PER_WORKER: Final = 5
BACK_OFFICE: Final = Operator("back-office")
COUNTER: Final = Principal.parse("667000000", "01")


def _victim(r: int) -> Principal:
    return Principal.parse(f"666{r:06d}", "01")


def _open(service: EntitlementService, principal: Principal, failures: int) -> tuple[str, ...]:
    """Open ``principal``'s subscription, store ``WORKERS`` strong sessions, and make
    ``failures`` wrong proofs one after the other."""
    service.open_subscription(BACK_OFFICE, principal)
    openings = [
        OpenSession(open_session(principal, "web", ["cap_identify"], pw.AT)) for _ in range(WORKERS)
    ]
    service.store.commit(openings, [])
    sessions = tuple(o.session_id for o in openings)
    for _ in range(failures):
        assert pw.attempt(service, sessions[0]) == "wrong"
    return sessions


def _prepare(setup: pw.Setup, store: AuthStore) -> list[pw.Task]:
    tasks = []
    for r in range(ROUNDS):
        sessions = _open(pw.service(setup, store, "last_try"), _victim(r), failures=4)
        tasks.append(pw.Task("last_try", r, sessions))
    sessions = _open(pw.service(setup, store, "counting"), COUNTER, failures=0)
    tasks.append(pw.Task("counting", 0, sessions, count=PER_WORKER))
    return tasks


def _race(setup: pw.Setup, tasks: list[pw.Task]) -> list[tuple[Any, ...]]:
    return run_workers(
        pw.race, lambda w: (setup, w, tasks), workers=WORKERS, expected=WORKERS * len(tasks)
    )


def _sequential(setup: pw.Setup) -> MemoryStore:
    """The same attempts, one after the other, on the reference store."""
    reference = MemoryStore(audit_key=setup.audit_key)
    for r in range(ROUNDS):
        service = pw.service(setup, reference, "last_try")
        sessions = _open(service, _victim(r), failures=4)
        for w in range(WORKERS):
            pw.attempt(service, sessions[w])
    service = pw.service(setup, reference, "counting")
    sessions = _open(service, COUNTER, failures=0)
    for w in range(WORKERS):
        for _ in range(PER_WORKER):
            pw.attempt(service, sessions[w])
    return reference


def _proof_events(store: AuthStore, principal: Principal) -> Counter[tuple[object, ...]]:
    return Counter(
        (s.event.action, s.event.outcome, s.event.details)
        for s in store.audit_log()
        if s.event.subject == principal.key
        and s.event.action in ("company.proof", "lockout.blocked")
    )


@pytest.mark.slow
def test_a_company_proof_is_checked_and_counted_once_by_eight_processes(
    database_url: str,
) -> None:
    setup = pw.Setup(
        url=database_url,
        audit_key=secrets.token_bytes(32),
        pepper=secrets.token_bytes(32),
        proof_key=secrets.token_bytes(32),
    )
    engine = create_engine(database_url)
    try:
        store = SqlStore(engine, audit_key=setup.audit_key)
        tasks = _prepare(setup, store)
        outcomes: dict[tuple[str, int], list[str]] = {}
        for kind, round_, _, outcome in _race(setup, tasks):
            outcomes.setdefault((kind, round_), []).extend(outcome.split(","))

        for r in range(ROUNDS):
            assert Counter(outcomes[("last_try", r)]) == {"wrong": 1, "blocked": WORKERS - 1}
        assert Counter(outcomes[("counting", 0)]) == {"wrong": WORKERS * PER_WORKER}

        reference = _sequential(setup)
        for principal in [*map(_victim, range(ROUNDS)), COUNTER]:
            assert store.get_lockout(principal).value == reference.get_lockout(principal).value
            assert _proof_events(store, principal) == _proof_events(reference, principal)
        assert store.get_lockout(COUNTER).value.failures == WORKERS * PER_WORKER
        blocked = store.get_lockout(_victim(0)).value
        assert (blocked.temporary_blocks, blocked.failures) == (1, 0)

        audit = list(store.audit_log())
        assert verify_audit_chains(setup.audit_key, store).total == len(audit)
    finally:
        engine.dispose()
