"""A process killed (SIGKILL) in the middle of administrative changes leaves, for every
change, the change and its audit event or neither; and the audit chain still verifies.

A child process adds users and sets their rights in a loop (EntitlementService.add_user,
set_rights: each one commit of the subscription, the account, the one-time code, the
lockout, the session and the audit events); it is killed at random moments, several times.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import secrets
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pytest

from securebox_auth.entitlements.accounts import Operator
from securebox_auth.entitlements.admin import describe_rights
from securebox_auth.entitlements.model import Theme
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.identity import Principal, Siren
from securebox_auth.policy.session import open_session
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.stores.protocols import OpenSession
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from tests.stores.sql import workers

BOSS: Final = Principal.parse("888000111", "01")
COMPANIES: Final = (Siren("732829320"), Siren("552100554"), Siren("443061841"))
KILLS: Final = 6


def _kill_at_random(setup: workers.Setup, session: str, start: int, tmp_path: Path) -> None:
    marker = tmp_path / f"started-{start}"
    context = multiprocessing.get_context("spawn")
    child = context.Process(
        target=workers.administer,
        args=(setup, session, BOSS.client_id.value, start, str(marker)),
    )
    child.start()
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert child.is_alive(), f"the child stopped: exit code {child.exitcode}"
        assert time.monotonic() < deadline, "the child did not start"
        time.sleep(0.01)
    time.sleep(random.uniform(0.05, 0.6))
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL


@pytest.mark.slow
def test_a_killed_process_leaves_each_change_with_its_audit_event_or_neither(
    database_url: str, tmp_path: Path
) -> None:
    _killed_several_times(database_url, tmp_path)


@pytest.mark.slow
def test_the_same_with_sqlite_synchronous_normal(sqlite_url: str, tmp_path: Path) -> None:
    """``synchronous=NORMAL`` (ADR 0027) loses nothing acknowledged when only the process
    dies: the WAL frames are in the operating system's cache, which outlives the process."""
    _killed_several_times(f"{sqlite_url}?synchronous=normal", tmp_path)


def _killed_several_times(database_url: str, tmp_path: Path) -> None:
    setup = workers.Setup(
        url=database_url,
        audit_key=secrets.token_bytes(32),
        pepper=secrets.token_bytes(32),
        proof_key=secrets.token_bytes(32),
    )
    engine = create_engine(database_url)
    try:
        store = SqlStore(engine, audit_key=setup.audit_key)
        service = EntitlementService(
            store, workers.hasher(setup), company_proofs=workers.proofs(setup)
        )
        service.open_subscription(Operator("bo"), BOSS, themes=frozenset({Theme("payroll")}))
        opened = OpenSession(open_session(BOSS, "web", ["cap_identify"], datetime.now(UTC)))
        store.commit([opened], [])
        session = opened.session_id
        for siren in COMPANIES:
            service.add_company(session, siren, "company", workers.proofs(setup).issue(siren))

        for kill in range(KILLS):
            _kill_at_random(setup, session, 1000 * (kill + 1), tmp_path)

        audit = list(store.audit_log())
        assert verify_audit_chains(setup.audit_key, store).total == len(audit)
        added = [s.event for s in audit if s.event.action == "user.add"]
        rights_events = [s.event for s in audit if s.event.action in ("user.add", "user.rights")]
        users = {a.principal for a in store.accounts_of(BOSS.client_id)} - {BOSS}
        assert len(users) >= KILLS  # every child got some work done before it was killed
        # every account has its creation event, and every creation event its account
        assert sorted(e.subject for e in added) == sorted(u.key for u in users)
        sub = store.get_subscription(BOSS.client_id)
        assert sub is not None
        issued = {s.event.subject for s in audit if s.event.action == "code.issue"}
        for user in users:
            # the rights stored are the ones the last audit event of the user says
            last = [e for e in rights_events if e.subject == user.key][-1]
            assert dict(last.details)["rights_after"] == describe_rights(sub.value.rights_of(user))
            # the one-time code was issued in the same commit
            assert store.get_code(user) is not None
            assert user.key in issued
        assert set(sub.value.rights) == users | ({BOSS} & set(sub.value.rights))
    finally:
        engine.dispose()
