"""Alembic environment of the securebox server's own tables.

Run through :mod:`securebox_server.db.migrate` (the library's runner, with the version table
``securebox_server_version``; only the server's tables are compared).
"""

from securebox_auth.stores.sql.migrate import run_environment

run_environment()
