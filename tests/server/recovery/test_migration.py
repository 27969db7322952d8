"""Revision s0009 (``recovery_flows``) upgrades and downgrades on SQLite and PostgreSQL, and
the result is exactly the schema module's."""

from __future__ import annotations

import sqlalchemy as sa

from securebox_auth.stores.sql.engine import create_engine
from securebox_server.db import migrate


def test_s0009_up_and_down(jobs_url: str) -> None:
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
