"""Revision s0005 (the jobs' leases) upgrades and downgrades on SQLite and PostgreSQL, and
the result is exactly the schema module's."""

from __future__ import annotations

import sqlalchemy as sa

from securebox_auth.stores.sql.engine import create_engine
from securebox_server.db import migrate


def test_s0005_up_and_down(jobs_url: str) -> None:
    engine = create_engine(jobs_url)
    try:
        assert migrate.current(engine) == migrate.head()
        assert migrate.check(engine).ok, migrate.check(engine)
        migrate.downgrade(engine, "s0004")
        assert "job_leases" not in sa.inspect(engine).get_table_names()
        indexes = {i["name"] for i in sa.inspect(engine).get_indexes("box_notifications")}
        assert "ix_box_notifications_message" not in indexes
        migrate.upgrade(engine)
        assert migrate.check(engine).ok, migrate.check(engine)
    finally:
        engine.dispose()
