"""The store fixtures of ``tests/stores`` (memory, SQLite, PostgreSQL), for the entry point."""

from tests.stores.conftest import (  # noqa: F401 - fixtures, found by name
    contract_store,
    fresh_postgres_url,
    postgres_admin_url,
    postgres_url,
    sqlite_template,
    sqlite_url,
)
