"""Alembic environment of the securebox server's own tables.

Run through :mod:`securebox_server.db.migrate`, which passes an open connection in
``config.attributes["connection"]``. The version table is ``securebox_server_version``, and
only the server's tables are compared, so the library's history and tables are left alone.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from securebox_server.db.migrate import VERSION_TABLE, ours
from securebox_server.db.schema import METADATA


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        version_table=VERSION_TABLE,
        include_object=ours,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("securebox server migrations run online")
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run migrations through securebox_server.db.migrate")
    _run(connection)


_main()
