"""The profiles table (revision s0007) on SQLite and PostgreSQL: the revision goes up and
down and matches the schema module; a profile is written, replaced, read per subscription
and deleted."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from securebox_auth.identity import ClientId, Principal
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.admin.profiles import Profile, ProfileBook
from securebox_server.db import migrate

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
CLAIRE = Profile("mrs", "Martin", "Claire", "+33612345678", None, "c@company.example", "Payroll")


def test_s0007_up_and_down(jobs_url: str) -> None:
    engine = create_engine(jobs_url)
    try:
        assert migrate.current(engine) == migrate.head()
        assert migrate.check(engine).ok, migrate.check(engine)
        migrate.downgrade(engine, "s0006")
        assert "admin_user_profiles" not in sa.inspect(engine).get_table_names()
        migrate.upgrade(engine)
        assert migrate.check(engine).ok, migrate.check(engine)
    finally:
        engine.dispose()


def test_profiles_are_kept_per_principal_and_subscription(jobs_url: str) -> None:
    engine = create_engine(jobs_url)
    try:
        book = ProfileBook(engine)
        claire, other = Principal.parse("123456789", "02"), Principal.parse("987654321", "02")
        assert book.get(claire) is None
        book.put(claire, CLAIRE, NOW)
        book.put(other, CLAIRE, NOW)
        moved = Profile("mrs", "Martin", "Claire", None, "0140000000", "c@x.example", "CFO")
        book.put(claire, moved, NOW)
        assert book.get(claire) == moved
        assert book.of(ClientId("123456789")) == {claire.key: moved}
        book.delete(claire)
        assert book.get(claire) is None
        assert book.get(other) == CLAIRE
    finally:
        engine.dispose()
