"""Alembic environment of securebox, shipped inside the package.

Run through :mod:`securebox_auth.stores.sql.migrate` (``securebox db ...``), which passes an
open connection and the history in ``config.attributes``. Online migrations only.
"""

from securebox_auth.stores.sql.migrate import run_environment

run_environment()
