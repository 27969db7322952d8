"""The ``limits`` storage contract of :class:`SqlRateLimitStorage` on SQLite and PostgreSQL:
hits within a moving window, the window moving with the (fixed) clock, clearing, expiry and
the sweep that keeps the tables bounded, fixed-window counters."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from limits import parse
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from sqlalchemy import Engine

from securebox_auth.clock import FixedClock
from securebox_server.db.schema import METADATA
from securebox_server.rate_limits.storage import SqlRateLimitStorage

#: the rate-limit tables (the server's schema holds others, e.g. the step-up orders)
RATE_TABLES = tuple(n for n in METADATA.tables if n.startswith("rate_limit_"))


def _rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in METADATA.tables.items()
            if name in RATE_TABLES
        }


def test_hits_up_to_the_limit_then_refuses(storage: SqlRateLimitStorage) -> None:
    assert [storage.acquire_entry("k", 3, 60) for _ in range(4)] == [True, True, True, False]
    start, count = storage.get_moving_window("k", 3, 60)
    assert count == 3
    assert start == storage.now()
    assert storage.get_moving_window("other", 3, 60) == (storage.now(), 0)
    assert storage.acquire_entry("other", 3, 60)  # keys are independent


def test_cost_counts_and_a_cost_over_the_limit_is_refused(storage: SqlRateLimitStorage) -> None:
    assert not storage.acquire_entry("k", 3, 60, amount=4)
    assert storage.acquire_entry("k", 3, 60, amount=2)
    assert not storage.acquire_entry("k", 3, 60, amount=2)
    assert storage.acquire_entry("k", 3, 60, amount=1)
    assert storage.get_moving_window("k", 3, 60)[1] == 3


def test_the_window_moves_with_the_clock(storage: SqlRateLimitStorage, clock: FixedClock) -> None:
    t0 = storage.now()
    assert storage.acquire_entry("k", 2, 60)
    clock.advance(timedelta(seconds=20))
    assert storage.acquire_entry("k", 2, 60)
    assert not storage.acquire_entry("k", 2, 60)
    assert storage.get_moving_window("k", 2, 60) == (t0, 2)
    clock.advance(timedelta(seconds=39))
    assert not storage.acquire_entry("k", 2, 60)  # the first entry lives until t0 + 60
    clock.advance(timedelta(seconds=1))
    assert storage.get_moving_window("k", 2, 60) == (t0 + 20, 1)
    assert storage.acquire_entry("k", 2, 60)
    assert not storage.acquire_entry("k", 2, 60)


def test_moving_window_strategy_reports_reset_and_remaining(
    storage: SqlRateLimitStorage, clock: FixedClock
) -> None:
    item = parse("2/minute")
    window = MovingWindowRateLimiter(storage)
    t0 = storage.now()
    assert window.hit(item, "login", "a")
    clock.advance(timedelta(seconds=15))
    assert window.hit(item, "login", "a")
    assert not window.test(item, "login", "a")
    stats = window.get_window_stats(item, "login", "a")
    assert (stats.reset_time, stats.remaining) == (t0 + 60, 0)
    window.clear(item, "login", "a")
    assert window.test(item, "login", "a")


def test_clear_and_reset(storage: SqlRateLimitStorage, limits_engine: Engine) -> None:
    for key in ("a", "b"):
        assert storage.acquire_entry(key, 1, 60)
    assert storage.incr("c", 60) == 1
    storage.clear("a")
    assert storage.acquire_entry("a", 1, 60)
    assert not storage.acquire_entry("b", 1, 60)
    assert storage.reset() == 3
    assert _rows(limits_engine) == dict.fromkeys(RATE_TABLES, 0)
    assert storage.check()


def test_expired_rows_are_swept(limits_engine: Engine, clock: FixedClock) -> None:
    storage = SqlRateLimitStorage(limits_engine, clock=clock, sweep_every=3600, sweep_batch=12)
    for n in range(30):
        assert storage.acquire_entry(f"k{n}", 5, 60)
    assert storage.incr("counter", 60) == 1
    rows = _rows(limits_engine)
    assert rows["rate_limit_entries"] == rows["rate_limit_windows"] == 30
    clock.advance(timedelta(seconds=60))
    assert storage.sweep() == 12 + 12 + 1  # a batch per table
    assert storage.sweep() == 12 + 12
    assert storage.sweep() == 6 + 6
    assert _rows(limits_engine) == dict.fromkeys(RATE_TABLES, 0)


def test_hits_sweep_on_their_own_and_a_key_never_holds_more_than_its_limit(
    limits_engine: Engine, clock: FixedClock
) -> None:
    storage = SqlRateLimitStorage(limits_engine, clock=clock, sweep_every=30)
    for _ in range(40):  # a hammered key: at most 3 rows, whatever the number of hits
        storage.acquire_entry("hot", 3, 10)
        clock.advance(timedelta(seconds=1))
    assert _rows(limits_engine)["rate_limit_entries"] <= 3
    for n in range(20):
        storage.acquire_entry(f"cold{n}", 3, 10)
    clock.advance(timedelta(seconds=31))
    storage.acquire_entry("hot", 3, 10)  # due for a sweep: the cold keys go
    assert _rows(limits_engine) == {
        "rate_limit_windows": 1,
        "rate_limit_entries": 1,
        "rate_limit_counters": 0,
    }


def test_fixed_window_counters(storage: SqlRateLimitStorage, clock: FixedClock) -> None:
    t0 = storage.now()
    assert storage.get("c") == 0
    assert storage.get_expiry("c") == t0
    assert storage.incr("c", 60) == 1
    assert storage.incr("c", 60, amount=2) == 3
    assert (storage.get("c"), storage.get_expiry("c")) == (3, t0 + 60)
    clock.advance(timedelta(seconds=60))
    assert storage.get("c") == 0
    assert storage.incr("c", 60) == 1  # a new window
    assert storage.get_expiry("c") == t0 + 120
    window = FixedWindowRateLimiter(storage)
    item = parse("1/hour")
    assert window.hit(item, "x")
    assert not window.hit(item, "x")


def test_keys_are_stored_as_digests(storage: SqlRateLimitStorage, limits_engine: Engine) -> None:
    storage.acquire_entry("login.source/192.0.2.7", 1, 60)
    with limits_engine.connect() as conn:
        keys = conn.execute(sa.text("SELECT key FROM rate_limit_entries")).scalars().all()
    assert len(keys) == 1
    assert "192.0.2.7" not in keys[0]
    assert len(keys[0]) == 64


@pytest.mark.parametrize("amount", [0, -1])
def test_a_non_positive_cost_is_free(storage: SqlRateLimitStorage, amount: int) -> None:
    assert storage.acquire_entry("k", 1, 60, amount=amount)
    assert storage.get_moving_window("k", 1, 60)[1] == 0
