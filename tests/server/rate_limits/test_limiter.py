"""Named layered limits: ``hit`` raises ``RateLimited`` with the seconds to wait, layers
combine, configuration strings are validated, and the server's tables have their own
migration history next to the library's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect

from securebox_auth.clock import FixedClock
from securebox_auth.errors import ConfigurationError, MalformedInput, SecureboxError
from securebox_auth.stores.sql import migrate as store_migrate
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.db import migrate
from securebox_server.rate_limits import DEFAULT_LIMITS, Limiter, RateLimited
from securebox_server.rate_limits.storage import SqlRateLimitStorage, open_rate_limit_engine
from tests.shell.portal import T0


@pytest.fixture
def engine(server_sqlite_url: str) -> Iterator[Engine]:
    engine = create_engine(server_sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def limiter(engine: Engine, clock: FixedClock) -> Limiter:
    specs = {"burst": "2/minute;3/hour", "daily": "1/day"}
    return Limiter(SqlRateLimitStorage(engine, clock=clock), specs)


def test_rate_limited_is_a_securebox_error_with_a_stable_code() -> None:
    error = RateLimited("login.source", 0.2)
    assert isinstance(error, SecureboxError)
    assert (error.code, error.status_hint, error.retry_after) == ("rate_limited", 429, 1)
    assert "login.source" not in str(error)
    assert RateLimited("x", 61.01).retry_after == 62


def test_hit_raises_with_the_wait_of_the_refusing_layer(
    limiter: Limiter, clock: FixedClock
) -> None:
    limiter.hit("burst", "a")
    clock.advance(timedelta(seconds=10))
    limiter.hit("burst", "a")
    with pytest.raises(RateLimited) as caught:
        limiter.hit("burst", "a")
    assert (caught.value.limit, caught.value.retry_after) == ("burst", 50)
    limiter.hit("burst", "b")  # another key
    clock.advance(timedelta(seconds=50))
    limiter.hit("burst", "a")  # the minute layer freed one; the refused hit took nothing
    clock.advance(timedelta(seconds=60))
    with pytest.raises(RateLimited) as caught:
        limiter.check("burst", "a")
    assert caught.value.retry_after == 3600 - 120  # the first hit leaves the hour at t0+1h
    assert limiter.used("burst", "a") == 3


def test_check_consumes_nothing_and_clear_forgets(limiter: Limiter) -> None:
    for _ in range(3):
        limiter.check("daily", "a")
    limiter.hit("daily", "a")
    with pytest.raises(RateLimited):
        limiter.check("daily", "a")
    assert not limiter.record("daily", "a")
    limiter.clear("daily", "a")
    assert limiter.record("daily", "a")


def test_names_keys_and_strings_are_validated(engine: Engine, limiter: Limiter) -> None:
    storage = SqlRateLimitStorage(engine)
    with pytest.raises(ConfigurationError):
        limiter.hit("nope", "a")
    for key in ("", "x" * 513):
        with pytest.raises(MalformedInput):
            limiter.hit("daily", key)
    for specs in ({"a": "ten per day"}, {"a": ""}, {"bad name!": "1/day"}):
        with pytest.raises(ConfigurationError):
            Limiter(storage, specs)
    assert set(Limiter(storage).limits) == set(DEFAULT_LIMITS)


def test_server_tables_have_their_own_history(tmp_path_factory: pytest.TempPathFactory) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('db')}/both.sqlite3"
    engine = create_engine(url)
    try:
        store_migrate.upgrade(engine)
        library = store_migrate.current(engine)
        assert migrate.current(engine) is None
        migrate.upgrade(engine)
        assert migrate.current(engine) == migrate.head()
        assert store_migrate.current(engine) == library  # untouched
        assert migrate.check(engine).ok, migrate.check(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"securebox_server_version", "alembic_version", "rate_limit_entries"} <= tables
        migrate.downgrade(engine, "base")
        assert migrate.current(engine) is None
        assert "rate_limit_entries" not in inspect(engine).get_table_names()
        assert store_migrate.current(engine) == library
    finally:
        engine.dispose()


def test_the_rate_limit_engine_trades_fsync_for_speed(server_sqlite_url: str) -> None:
    engine = open_rate_limit_engine(server_sqlite_url)
    store_engine = create_engine(server_sqlite_url)
    try:
        with engine.connect() as conn, store_engine.connect() as store_conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1  # NORMAL
            assert store_conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
    finally:
        engine.dispose()
        store_engine.dispose()


operations = st.lists(
    st.tuples(st.integers(1, 3), st.integers(0, 40)),  # (cost, seconds to wait after)
    min_size=1,
    max_size=25,
)


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_the_storage_agrees_with_a_model_of_the_moving_window(
    engine: Engine, ops: list[tuple[int, int]]
) -> None:
    """Any sequence of hits and waits: the SQL storage accepts exactly what a list of
    timestamps would (limit 5 per 60 s), and reports the same window."""
    clock = FixedClock(T0)
    storage = SqlRateLimitStorage(engine, clock=clock)
    key = f"model-{uuid.uuid4()}"
    accepted: list[float] = []
    for cost, wait in ops:
        now = storage.now()
        live = [at for at in accepted if at > now - 60]
        expected = len(live) + cost <= 5
        assert storage.acquire_entry(key, 5, 60, amount=cost) is expected
        if expected:
            accepted += [now] * cost
            live += [now] * cost
        assert storage.get_moving_window(key, 5, 60) == (
            (min(live), len(live)) if live else (now, 0)
        )
        clock.advance(timedelta(seconds=wait))


def test_apply_is_all_or_nothing_across_names(limiter: Limiter, clock: FixedClock) -> None:
    limiter.hit("daily", "b")
    with pytest.raises(RateLimited) as caught:
        limiter.apply([("burst", "a"), ("daily", "b")])
    assert (caught.value.limit, caught.value.retry_after) == ("daily", 86400)
    assert limiter.used("burst", "a") == 0  # the refused call took nothing from burst
    with pytest.raises(RateLimited):
        limiter.apply([("burst", "a")], checks=[("daily", "b")])
    assert (
        limiter.apply([("burst", "a")], forget=[("daily", "b")], checks=[("daily", "b")]) is False
    )
    assert (limiter.used("burst", "a"), limiter.used("daily", "b")) == (1, 0)


def test_apply_skips_the_unless_layers_when_the_unless_limit_is_used(limiter: Limiter) -> None:
    unless = ("daily", "known")
    assert not limiter.apply([("burst", "a")], unless=unless, unless_hits=[("daily", "x")])
    assert limiter.used("daily", "x") == 1
    with pytest.raises(RateLimited):  # not known yet: the spent daily budget refuses
        limiter.apply(unless=unless, unless_checks=[("daily", "x")])
    limiter.hit(*unless)
    assert limiter.apply([("burst", "a")], unless=unless, unless_checks=[("daily", "x")])
    assert limiter.used("burst", "a") == 2
