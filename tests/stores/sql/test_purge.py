"""Purge of spent sessions and one-time values (SQLite and PostgreSQL): what is deleted,
what is kept (live challenges, unexpired assertion ids, credentials, recent sessions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from securebox_auth.stores.sql.purge import ONE_TIME_KINDS, purge_spent, spent
from securebox_auth.stores.sql.schema import FACTOR_STATES, SESSIONS

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _session(engine: Engine, sid: str, last: datetime, *, ended: bool) -> None:
    with engine.begin() as conn:
        conn.execute(
            SESSIONS.insert().values(
                id=sid, client_id="123456789", user_number="01", channel="web",
                auth_time=last, last_activity=last, ended=ended, state="{}", version=1,
            )
        )  # fmt: skip


def _factor(engine: Engine, kind: str, item: str, state: dict[str, object] | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            FACTOR_STATES.insert().values(
                client_id="123456789", user_number="01", kind=kind, item=item,
                state=None if state is None else json.dumps(state), version=1,
            )
        )  # fmt: skip


def _left(engine: Engine) -> tuple[set[str], set[str]]:
    with engine.connect() as conn:
        sessions = set(conn.execute(sa.select(SESSIONS.c.id)).scalars())
        items = set(conn.execute(sa.select(FACTOR_STATES.c.item)).scalars())
    return sessions, items


def test_spent_rows_go_and_live_ones_stay(sql_engine: Engine) -> None:
    _session(sql_engine, "old-ended", NOW - timedelta(days=3), ended=True)
    _session(sql_engine, "old-idle", NOW - timedelta(days=2), ended=False)
    _session(sql_engine, "recent-ended", NOW - timedelta(hours=1), ended=True)
    _session(sql_engine, "live", NOW - timedelta(minutes=1), ended=False)
    past, future = (
        (NOW - timedelta(minutes=1)).isoformat(),
        (NOW + timedelta(minutes=4)).isoformat(),
    )
    _factor(sql_engine, "oob", "expired-challenge", {"expires_at": past})
    _factor(sql_engine, "oob", "live-challenge", {"expires_at": future})
    _factor(sql_engine, "oob", "consumed", None)
    _factor(sql_engine, "login_flow", "old-flow", {"expires_at": past})
    _factor(sql_engine, "assertion_jti", "used-jti", {"exp": int(NOW.timestamp()) - 1})
    _factor(sql_engine, "assertion_jti", "live-jti", {"exp": int(NOW.timestamp()) + 60})
    _factor(sql_engine, "assertion_grant", "spent-grant", {"exp": int(NOW.timestamp()) - 1})
    _factor(sql_engine, "assertion_grant", "live-grant", {"exp": int(NOW.timestamp()) + 60})
    _factor(sql_engine, "totp", "default", {"expires_at": past})  # a credential: never
    _factor(sql_engine, "oob_destination", "gone", None)  # not a one-time kind
    done = purge_spent(sql_engine, now=NOW, idle_timeout=timedelta(minutes=5))
    assert (done.sessions, done.one_time) == (2, 5)
    sessions, items = _left(sql_engine)
    assert sessions == {"recent-ended", "live"}
    assert items == {"live-challenge", "live-jti", "live-grant", "default", "gone"}
    assert purge_spent(sql_engine, now=NOW, idle_timeout=timedelta(minutes=5)).one_time == 0


def test_the_limit_bounds_one_call(sql_engine: Engine) -> None:
    for n in range(7):
        _factor(sql_engine, "cap_challenge", f"c{n}", None)
        _session(sql_engine, f"s{n}", NOW - timedelta(days=9), ended=True)
    first = purge_spent(sql_engine, now=NOW, idle_timeout=timedelta(minutes=5), limit=5)
    assert (first.sessions, first.one_time) == (5, 5)
    second = purge_spent(sql_engine, now=NOW, idle_timeout=timedelta(minutes=5), limit=5)
    assert (second.sessions, second.one_time) == (2, 2)


@given(
    kind=st.sampled_from([*ONE_TIME_KINDS, "totp", "passkeys"]),
    offset=st.integers(-(10**6), 10**6),
    junk=st.text(max_size=20),
)
def test_spent_is_decided_by_the_expiry_only(kind: str, offset: int, junk: str) -> None:
    moment = NOW + timedelta(seconds=offset)
    field = (
        {"exp": int(moment.timestamp())}
        if kind in ("assertion_jti", "assertion_grant")
        else {"expires_at": moment.isoformat()}
    )
    expected = kind in ONE_TIME_KINDS and offset < 0
    assert spent(kind, json.dumps(field), NOW) is expected
    assert spent(kind, json.dumps(junk), NOW) is False  # no expiry: kept
    assert spent(kind, "{" + junk, NOW) is False  # unreadable: kept
    by_exp = ("assertion_jti", "assertion_grant")
    assert spent(kind, None, NOW) is (kind in ONE_TIME_KINDS and kind not in by_exp)


def test_the_verifiers_one_time_records_are_purged_kinds() -> None:
    from securebox_auth.shell.token_verifier import ASSERTION_GRANT, ASSERTION_JTI  # noqa: PLC0415

    assert {ASSERTION_JTI, ASSERTION_GRANT} <= set(ONE_TIME_KINDS)
