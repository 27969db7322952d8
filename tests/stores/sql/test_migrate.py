"""stores/sql/migrate.py and the migrations: shipped in the package, reversible, and exactly
the schema module's tables, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from securebox_auth.identity import ClientId, Principal, Siren, UserNumber
from securebox_auth.lockout.rules import (
    BlockStatus,
    Element,
    LockoutAlert,
    LockoutRules,
    block_status,
    record_failure,
    record_success,
)
from securebox_auth.stores.sql import migrate
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.schema import METADATA
from securebox_auth.stores.sql.store import SqlStore

Signature = dict[str, object]


@pytest.fixture
def empty_engine(empty_database_url: str) -> Iterator[Engine]:
    engine = create_engine(empty_database_url)
    yield engine
    engine.dispose()


def _signature(engine: Engine) -> Signature:
    """Everything reflection sees: tables, columns with types and nullability, keys,
    indexes, foreign keys and check constraints."""
    found: Signature = {}
    inspector = inspect(engine)
    for table in sorted(inspector.get_table_names()):
        columns = [
            (
                c["name"],
                str(c["type"].compile(dialect=engine.dialect)),
                c["nullable"],
                getattr(c["type"], "collation", None),
            )
            for c in inspector.get_columns(table)
        ]
        found[table] = {
            "columns": columns,
            "primary_key": inspector.get_pk_constraint(table),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "foreign_keys": sorted(
                (fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            ),
            "checks": sorted(str(c["name"]) for c in inspector.get_check_constraints(table)),
        }
    return found


def test_the_migrations_are_package_data() -> None:
    scripts = files("securebox_auth.stores.sql").joinpath("migrations")
    assert scripts.joinpath("env.py").is_file()
    assert scripts.joinpath("script.py.mako").is_file()
    assert scripts.joinpath("versions").joinpath("v0001_initial.py").is_file()
    assert scripts.joinpath("versions").joinpath("v0002_factor_states.py").is_file()
    shipped = sorted(p.name for p in Path(str(scripts.joinpath("versions"))).glob("v*.py"))
    assert migrate.head() == shipped[-1][1:5]  # the newest file is the head


def test_upgrade_downgrade_upgrade_leaves_the_same_schema(empty_engine: Engine) -> None:
    assert migrate.current(empty_engine) is None
    migrate.upgrade(empty_engine)
    first = _signature(empty_engine)
    assert set(first) == {t.name for t in METADATA.sorted_tables} | {"alembic_version"}
    assert migrate.current(empty_engine) == migrate.head()
    migrate.downgrade(empty_engine, "base")
    assert set(_signature(empty_engine)) == {"alembic_version"}
    assert migrate.current(empty_engine) is None
    migrate.upgrade(empty_engine)
    assert _signature(empty_engine) == first


def test_each_revision_downgrades_to_the_one_before(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine, "0001")
    before = _signature(empty_engine)
    assert "factor_states" not in before
    migrate.upgrade(empty_engine)
    assert "factor_states" in _signature(empty_engine)
    migrate.downgrade(empty_engine, "0001")
    assert migrate.current(empty_engine) == "0001"
    assert _signature(empty_engine) == before
    migrate.upgrade(empty_engine)
    assert migrate.check(empty_engine).ok


def test_the_migrated_schema_is_exactly_the_schema_module(empty_engine: Engine) -> None:
    status = migrate.check(empty_engine)
    assert not status.ok
    assert status.revision is None
    assert "add_table accounts" in status.differences
    migrate.upgrade(empty_engine)
    status = migrate.check(empty_engine)
    assert status.differences == ()
    assert status.ok


def test_check_sees_a_missing_index_and_an_extra_column(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_documents_theme")
        conn.exec_driver_sql("ALTER TABLE accounts ADD COLUMN nickname VARCHAR(20)")
    status = migrate.check(empty_engine)
    assert not status.ok
    assert set(status.differences) == {
        "add_index ix_documents_theme",
        "remove_column accounts.nickname",
    }


def test_the_audit_head_row_comes_with_the_schema(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT chain, sequence, mac, version FROM audit_chains").all()
    assert [tuple(r) for r in rows] == [("", 0, "0" * 64, 1)]


def test_postgresql_keys_compare_byte_by_byte(postgres_url: str) -> None:
    """The test database's default collation is ICU en-US; the key columns are "C"."""
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            default = conn.exec_driver_sql(
                "SELECT datlocprovider FROM pg_database WHERE datname = current_database()"
            ).scalar()
            ordered = conn.exec_driver_sql(
                "SELECT x FROM (VALUES ('b'), ('B'), ('a'), ('A')) v(x) ORDER BY x"
            ).scalars()
            assert default != "i" or list(ordered) == ["a", "A", "b", "B"]
        columns = {c["name"]: c for c in inspect(engine).get_columns("documents")}
        assert columns["id"]["type"].collation == "C"  # type: ignore[attr-defined]
        assert columns["label"]["type"].collation is None  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_a_lockout_row_from_before_0003_reads_conservatively(empty_engine: Engine) -> None:
    """A row written before the per-element series (ADR 0008): its 4 failures may have been
    of any element, so every element is one failure from a block; each element's success
    clears only its own copy."""
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    migrate.upgrade(empty_engine, "0002")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO lockouts (client_id, user_number, failures, temporary_blocks, "
                "blocked_until, permanent, last_failure_at, series_started_at, version) "
                "VALUES ('12345678', '01', 4, 2, NULL, :f, :at, :at, 7)"
            ),
            {"at": at, "f": False},
        )
    migrate.upgrade(empty_engine)
    store = SqlStore(empty_engine, audit_key=b"k" * 32)
    stored = store.get_lockout(Principal(ClientId("12345678"), UserNumber("01")))
    assert stored.version == 7
    state = stored.value
    assert (state.failures, state.temporary_blocks) == (4, 2)
    assert {s.element for s in state.elements} == set(Element)
    assert all((s.failures, s.temporary_blocks) == (4, 2) for s in state.elements)
    later = datetime(2026, 12, 1, tzinfo=UTC)
    cleared = record_success(state, element=Element.CODE)
    blocked, alert = record_failure(cleared, later, LockoutRules(), element=Element.TOTP)
    assert alert is LockoutAlert.FINAL_WARNING  # the TOTP's 3rd block: 2 were inherited
    assert block_status(blocked, later) is BlockStatus.TEMPORARY


def test_0005_indexes_the_companies_of_the_subscriptions_of_before(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine, "0004")
    state = (
        '{"v": 1, "companies": [["732829320", "ACME", "2026-11-30T09:00:00+00:00"], '
        '["552100554", "ACME 2", "2026-11-30T09:00:00+00:00"]], "themes": [], "rights": [], '
        '"invitations": []}'
    )
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO subscriptions (client_id, digital, state, version) "
                "VALUES ('111111111', :d, :s, 1)"
            ),
            {"d": True, "s": state},
        )
    migrate.upgrade(empty_engine)
    store = SqlStore(empty_engine, audit_key=b"k" * 32)
    assert store.subscriptions_holding(Siren("552100554")) == [ClientId("111111111")]
    assert store.subscriptions_holding(Siren("443061841")) == []
    migrate.downgrade(empty_engine, "0004")
    migrate.upgrade(empty_engine)


def test_servers_starting_together_migrate_one_after_the_other(empty_engine: Engine) -> None:
    # Several hosts started at once on a database that is behind (ADR 0057): each upgrade
    # waits for the one before (an advisory lock on PostgreSQL, the write lock on SQLite)
    # and finds the work done; none fails on a table another created meanwhile. SQLite is
    # one host's file: `securebox serve` migrates it once before its workers start.
    if empty_engine.dialect.name != "postgresql":
        pytest.skip("several hosts share a PostgreSQL database, not a SQLite file")
    url = empty_engine.url.render_as_string(hide_password=False)
    engines = [create_engine(url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(migrate.upgrade, engines))
    finally:
        for engine in engines:
            engine.dispose()
    assert migrate.current(empty_engine) == migrate.head()
    assert migrate.check(empty_engine).ok
