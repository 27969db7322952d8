"""One-time values stay single-use across processes, and counters stay exact.

Eight OS processes (``spawn``), each with its own engine and services as a server process
would have, are released together by a barrier and submit the same one-time value, 50
rounds, on SQLite and on PostgreSQL:

* the administrator-issued one-time code, to change it: exactly one process's change wins;
* the acceptance of the same invitation: exactly one succeeds;
* the consumption of the same single-use step-up grant: exactly one succeeds;

then all of them submit wrong codes for the same principals, and the stored failure counts,
blocks and audit records equal those of the same attempts made one after the other.
"""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pytest

from securebox_auth.clock import FixedClock
from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.entitlements.model import InvitationStatus, Theme
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.identity import Principal, Siren
from securebox_auth.policy.session import Grant, open_session, with_grant
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.code import ConfidentialCodeService
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import AuthStore, OpenSession
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from tests.stores.sql import workers
from tests.stores.sql.processes import run_workers
from tests.support import STRONG_CODES, WRONG_CODE

WORKERS: Final = 8
ROUNDS: Final = 50
BACK_OFFICE: Final = Operator("back-office")
CODES_CLIENT: Final = "555000111"
HOST: Final = Principal.parse("666000111", "01")
INVITEE: Final = Principal.parse("777000111", "01")
COMPANY: Final = Siren("732829320")
COUNTING: Final = Principal.parse(CODES_CLIENT, "90")
BLOCKING: Final = Principal.parse(CODES_CLIENT, "91")
WRONG_PER_WORKER: Final = {"counting": 10, "blocking": 5}


def _session(store: AuthStore, principal: Principal, grant: bool = False) -> str:
    now = datetime.now(UTC)
    session = open_session(principal, "web", ["cap_identify"], now)
    if grant:
        session = with_grant(
            session,
            Grant("payment.initiate", principal, None, now, now + timedelta(hours=1), ("cap",)),
        )
    opened = OpenSession(session)
    store.commit([opened], [])
    return opened.session_id


def _prepare(setup: workers.Setup, store: SqlStore) -> list[workers.Task]:
    codes = ConfidentialCodeService(store, workers.hasher(setup))
    entitlements = EntitlementService(
        store, workers.hasher(setup), company_proofs=workers.proofs(setup)
    )
    for principal in (COUNTING, BLOCKING):
        codes.create_account(BACK_OFFICE, principal, Role.USER)
    entitlements.open_subscription(BACK_OFFICE, HOST, themes=frozenset({Theme("payroll")}))
    entitlements.open_subscription(BACK_OFFICE, INVITEE)
    host = _session(store, HOST)
    entitlements.add_company(host, COMPANY, "ACME", workers.proofs(setup).issue(COMPANY))
    invitee_sessions = tuple(_session(store, INVITEE) for _ in range(WORKERS))
    tasks = []
    for r in range(ROUNDS):
        principal = Principal.parse(CODES_CLIENT, f"{r + 1:02d}")
        one_time = codes.create_account(BACK_OFFICE, principal, Role.USER).reveal()
        invitation = entitlements.invite(host, INVITEE, frozenset({COMPANY}))
        tasks += [
            workers.Task("change_code", r, (CODES_CLIENT, f"{r + 1:02d}", one_time, STRONG_CODES)),
            workers.Task("accept", r, (invitee_sessions, HOST.client_id.value, invitation)),
            workers.Task("consume", r, (_session(store, INVITEE, grant=True),)),
        ]
    for kind, principal in (("counting", COUNTING), ("blocking", BLOCKING)):
        args = (CODES_CLIENT, principal.user_number.value, WRONG_CODE, WRONG_PER_WORKER[kind], kind)
        tasks.append(workers.Task("wrong_logins", 0, args))
    return tasks


def _race(setup: workers.Setup, tasks: list[workers.Task]) -> list[tuple[Any, ...]]:
    return run_workers(
        workers.race, lambda w: (setup, w, tasks), workers=WORKERS, expected=WORKERS * len(tasks)
    )


def _sequential_lockouts(setup: workers.Setup) -> MemoryStore:
    """The same wrong attempts, one after the other, on the reference store."""
    reference = MemoryStore(audit_key=setup.audit_key)
    codes = ConfidentialCodeService(reference, workers.hasher(setup), clock=FixedClock())
    for kind, principal in (("counting", COUNTING), ("blocking", BLOCKING)):
        codes.create_account(BACK_OFFICE, principal, Role.USER)
        frozen = ConfidentialCodeService(
            reference,
            workers.hasher(setup),
            clock=FixedClock(workers.FROZEN),
            lockout_rules=workers.lockout_rules(kind),
        )
        for _ in range(WORKERS * WRONG_PER_WORKER[kind]):
            frozen.login(CODES_CLIENT, principal.user_number.value, WRONG_CODE)
    return reference


def _events_about(store: AuthStore, principal: Principal) -> Counter[tuple[object, ...]]:
    return Counter(
        (s.event.action, s.event.outcome, s.event.details)
        for s in store.audit_log()
        if s.event.subject == principal.key and s.event.at == workers.FROZEN
    )


@pytest.mark.slow
def test_one_time_values_are_used_once_by_eight_processes(database_url: str) -> None:
    setup = workers.Setup(
        url=database_url,
        audit_key=secrets.token_bytes(32),
        pepper=secrets.token_bytes(32),
        proof_key=secrets.token_bytes(32),
    )
    engine = create_engine(database_url)
    try:
        store = SqlStore(engine, audit_key=setup.audit_key)
        tasks = _prepare(setup, store)
        outcomes: dict[tuple[str, int], dict[int, str]] = {}
        for kind, round_, worker, outcome in _race(setup, tasks):
            outcomes.setdefault((kind, round_), {})[worker] = outcome
        hasher = workers.hasher(setup)
        audit = list(store.audit_log())
        for r in range(ROUNDS):
            changed = [w for w, o in outcomes[("change_code", r)].items() if o == "changed"]
            assert len(changed) == 1, outcomes[("change_code", r)]
            principal = Principal.parse(CODES_CLIENT, f"{r + 1:02d}")
            stored = store.get_code(principal)
            assert stored is not None
            assert not stored.value.must_change
            assert hasher.verify(stored.value.hash, principal, STRONG_CODES[changed[0]])

            accepted = Counter(outcomes[("accept", r)].values())
            assert accepted["accepted"] == 1, accepted
            assert accepted["refused"] + accepted["gave_up"] == WORKERS - 1
            consumed = outcomes[("consume", r)]
            assert Counter(consumed.values()) == {"consumed": 1, "refused": WORKERS - 1}

        host = store.get_subscription(HOST.client_id)
        assert host is not None
        invitations = host.value.invitations.values()
        assert len(invitations) == ROUNDS
        assert all(i.status is InvitationStatus.ACCEPTED for i in invitations)
        # an acceptance concerns the host and the invitee's subscription: it is in both
        # chains (ADR 0021), once in the host's
        accepted_events = Counter(
            dict(s.event.details)["invitation"]
            for s in store.audit_log(HOST.client_id.value)
            if s.event.action == "invitation.accepted"
        )
        assert accepted_events == {i.id: 1 for i in invitations}
        consumed_events = Counter(
            s.event.subject for s in audit if s.event.action == "grant.consumed"
        )
        assert sorted(consumed_events.values()) == [1] * ROUNDS

        reference = _sequential_lockouts(setup)
        for principal in (COUNTING, BLOCKING):
            assert store.get_lockout(principal) == reference.get_lockout(principal)
            assert _events_about(store, principal) == _events_about(reference, principal)
        assert store.get_lockout(COUNTING).value.failures == WORKERS * WRONG_PER_WORKER["counting"]
        blocked = store.get_lockout(BLOCKING).value
        assert (blocked.temporary_blocks, blocked.failures) == (1, 0)

        assert verify_audit_chains(setup.audit_key, store).total == len(audit)
    finally:
        engine.dispose()
