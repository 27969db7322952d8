"""Eight processes rotate the same session at once, on SQLite and PostgreSQL: exactly one new
identifier wins, the old one is dead, and the losers' identifiers were never stored."""

from __future__ import annotations

import secrets
from collections import Counter
from datetime import UTC, datetime
from typing import Final

import pytest
from sqlalchemy import text

from securebox_auth.identity import Principal
from securebox_auth.policy.session import open_session
from securebox_auth.policy.session_ids import session_key
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.sessions import SessionService
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from tests.stores.sql import session_workers
from tests.stores.sql.processes import run_workers

WORKERS: Final = 8
ROUNDS: Final = 25


@pytest.mark.slow
def test_eight_processes_rotating_one_session_make_exactly_one_new_identifier(
    database_url: str,
) -> None:
    audit_key = secrets.token_bytes(32)
    engine = create_engine(database_url)
    try:
        store = SqlStore(engine, audit_key=audit_key)
        sessions = SessionService(store)
        owners = [Principal.parse("123456789", f"{r + 1:02d}") for r in range(ROUNDS)]
        now = datetime.now(UTC)
        ids = [sessions.open(open_session(o, "web", ["cap_identify"], now)) for o in owners]

        found: dict[int, list[str]] = {r: [] for r in range(ROUNDS)}
        for round_, outcome in run_workers(
            session_workers.rotate,
            lambda _w: (database_url, audit_key, ids),
            workers=WORKERS,
            expected=WORKERS * ROUNDS,
        ):
            found[round_].append(outcome)

        with engine.connect() as conn:
            live = Counter(
                (row[0], row[1])
                for row in conn.execute(
                    text("SELECT client_id, user_number FROM sessions WHERE ended = :f"),
                    {"f": False},
                )
            )
        for r, owner in enumerate(owners):
            outcomes = found[r]
            winners = [o.removeprefix("rotated:") for o in outcomes if o.startswith("rotated:")]
            assert len(winners) == 1, outcomes
            assert Counter(o for o in outcomes if o == "dead") == {"dead": WORKERS - 1}, outcomes
            assert store.get_session(ids[r]) is None  # the old identifier is dead
            winner = store.get_session(winners[0])
            assert winner is not None
            assert winner.value.principal == owner
            assert live[(owner.client_id.value, owner.user_number.value)] == 1
        with engine.connect() as conn:
            stored = {row[0] for row in conn.execute(text("SELECT id FROM sessions"))}
        assert len(stored) == 2 * ROUNDS  # each old id (ended) and one new id per round
        assert not stored & set(ids)  # digests only
        assert {session_key(i) for i in ids} <= stored
        audit = list(store.audit_log())
        rotations = [s for s in audit if s.event.action == "session.rotate"]
        assert len(rotations) == ROUNDS
        assert verify_audit_chains(audit_key, store).total == len(audit)
    finally:
        engine.dispose()
