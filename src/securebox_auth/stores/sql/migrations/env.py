"""Alembic environment of securebox, shipped inside the package.

Run through :mod:`securebox_auth.stores.sql.migrate` (``securebox db ...``), which passes an
open connection in ``config.attributes["connection"]``. Online migrations only.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from securebox_auth.stores.sql.schema import METADATA


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        # SQLite cannot ALTER most things: later migrations rebuild tables in batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("securebox migrations run online: use `securebox db upgrade`")
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations through securebox_auth.stores.sql.migrate")
    _run(connection)


_main()
