"""The done-when of issue 12: the login and step-up flows from 8 processes on PostgreSQL.

* distinct users (two per process, each doing a strong login and two payee step-ups with
  their execution): no error reaches a caller, every grant is consumed once;
* one user, one granted step-up executed by 8 processes at once: exactly one consumes the
  grant, the others are told the flow is over (``FlowExpired``);
* the same grant spent at once by 4 processes executing the flow and 4 verifying an
  assertion that carries it (a downstream service): one spend in all.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Final

import pytest

from securebox_auth import (
    Channel,
    CodeAnswer,
    FixedClock,
    OobAnswer,
    OperationRequest,
    Securebox,
)
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.stores.sql.store import SqlStore
from tests.shell import workers
from tests.shell.portal import CODE, MASTER, T0, Phone, enrol_users, make_box, strong_login, user
from tests.stores.sql.processes import run_workers

WORKERS: Final = 8
PER_WORKER: Final = 2


@pytest.mark.slow
def test_eight_processes_with_distinct_users_see_no_error(fresh_postgres_url: str) -> None:
    audit_key = DerivedKeys.from_hex(MASTER).audit_key()
    store = open_sql_store(fresh_postgres_url, audit_key=audit_key)
    box = make_box(store, FixedClock(T0), Phone())
    seeds = enrol_users(box, WORKERS * PER_WORKER)
    by_number = {who.user_number.value: secret for who, secret in seeds.items()}
    args = [
        (
            fresh_postgres_url,
            numbers := [w * PER_WORKER + k + 1 for k in range(PER_WORKER)],
            {n: by_number[f"{n:02d}"] for n in numbers},
        )
        for w in range(WORKERS)
    ]
    found = dict(
        run_workers(
            workers.whole_flow,
            args.__getitem__,
            workers=WORKERS,
            expected=WORKERS * PER_WORKER,
            timeout=120,
        )
    )
    assert found == dict.fromkeys(range(1, WORKERS * PER_WORKER + 1), "ok:2")
    audit = list(store.audit_log())
    actions = Counter(s.event.action for s in audit)
    assert actions["grant.consume"] == WORKERS * PER_WORKER * 2
    assert actions["grant.issue"] == WORKERS * PER_WORKER * 2
    assert actions["session.open"] == WORKERS * PER_WORKER
    assert verify_audit_chains(audit_key, store).total == len(audit)
    store.engine.dispose()


def _granted(url: str) -> tuple[SqlStore, Securebox, str, str]:
    """One user's payee step-up proved (its grant in the session): the store, the entry
    point, the session id and the flow's handle."""
    store = open_sql_store(url, audit_key=DerivedKeys.from_hex(MASTER).audit_key())
    clock = FixedClock(T0)
    phone = Phone()
    box = make_box(store, clock, phone)
    seed = enrol_users(box, 1)[user(1)]
    clock.advance(timedelta(minutes=1))
    session_id = strong_login(box, user(1), seed, clock)
    request = OperationRequest("payee_management", payee="FR7630006000011234567890189")
    up = box.start_step_up(session_id, request)
    sms = box.send_step_up_code(
        session_id, up.handle, channel=Channel.SMS, destination="+33600000001"
    )
    up = box.prove_step_up(session_id, up.handle, OobAnswer(sms, phone.code))
    up = box.prove_step_up(session_id, up.handle, CodeAnswer(CODE))
    assert up.ready
    return store, box, up.session_id, up.handle


@pytest.mark.slow
def test_one_grant_executed_by_eight_processes_is_consumed_once(fresh_postgres_url: str) -> None:
    store, _, session_id, handle = _granted(fresh_postgres_url)
    args = [(fresh_postgres_url, session_id, handle) for _ in range(WORKERS)]
    outcomes = Counter(
        run_workers(
            workers.execute_one, args.__getitem__, workers=WORKERS, expected=WORKERS, timeout=120
        )
    )
    assert outcomes == {"executed": 1, "FlowExpired": WORKERS - 1}, outcomes
    actions = Counter(s.event.action for s in store.audit_log())
    assert actions["grant.consume"] == 1
    assert actions["grant.issue"] == 1
    store.engine.dispose()


@pytest.mark.slow
def test_one_grant_executed_and_carried_downstream_at_once_is_spent_once(
    fresh_postgres_url: str,
) -> None:
    store, box, session_id, handle = _granted(fresh_postgres_url)
    token = box.assertion(session_id, audience="payments-api")
    paths = ["execute", "assertion"] * (WORKERS // 2)
    jwks = dict(box.jwks())
    args = [(fresh_postgres_url, session_id, handle, token, jwks, path) for path in paths]
    outcomes = Counter(
        run_workers(
            workers.execute_or_verify,
            args.__getitem__,
            workers=WORKERS,
            expected=WORKERS,
            timeout=120,
        )
    )
    assert outcomes["executed"] + outcomes["spent"] == 1, outcomes
    assert not any(o.startswith("crash") for o in outcomes), outcomes
    actions = Counter((s.event.action, s.event.outcome) for s in store.audit_log())
    assert actions[("grant.consume", "success")] + actions[("assertion.consume", "success")] == 1
    store.engine.dispose()
