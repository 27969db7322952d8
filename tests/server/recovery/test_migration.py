"""Revision s0009 (``recovery_flows``) upgrades and downgrades on SQLite and PostgreSQL, and
the result is exactly the schema module's."""

from __future__ import annotations

import sqlalchemy as sa

from securebox_auth.stores.sql.engine import create_engine
from securebox_server.db import migrate
from tests.server.jobs.conftest import jobs_url  # noqa: F401 (fixture, found by name)
from tests.server.rate_limits.conftest import (  # noqa: F401 (fixtures, found by name)
    server_postgres_url,
    server_sqlite_url,
)
from tests.stores.conftest import (  # noqa: F401 (fixtures, found by name)
    postgres_admin_url,
    sqlite_template,
)


def test_s0009_up_and_down(jobs_url: str) -> None:  # noqa: F811
    engine = create_engine(jobs_url)
    try:
        assert migrate.check(engine).ok, migrate.check(engine)
        migrate.downgrade(engine, "s0008")
        assert "recovery_flows" not in sa.inspect(engine).get_table_names()
        migrate.upgrade(engine)
        indexes = {i["name"] for i in sa.inspect(engine).get_indexes("recovery_flows")}
        assert {"ix_recovery_flows_token", "ix_recovery_flows_principal"} <= indexes
        assert migrate.check(engine).ok, migrate.check(engine)
    finally:
        engine.dispose()
