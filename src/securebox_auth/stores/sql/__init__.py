"""SQL stores on SQLAlchemy 2: SQLite (embedded default) and PostgreSQL (psycopg 3).

Needs the ``sql`` extra (``pip install 'securebox[sql]'``). Nothing outside this package
imports SQLAlchemy, so the core works without it; the names below load lazily, so that
``securebox --help`` works without it too.

* :class:`SqlStore`: the :class:`~securebox_auth.stores.protocols.AuthStore` Protocol;
* :class:`SqlCatalogue`: the
  :class:`~securebox_auth.entitlements.catalogue.DocumentCatalogue` Protocol;
* :func:`create_engine`, :class:`DatabaseSettings`, :func:`database_url`: configuration by
  URL (``SECUREBOX_DATABASE_URL``);
* :mod:`.migrate`: the Alembic migrations shipped in the package (``securebox db ...``).

See ``docs/persistence.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from securebox_auth.stores.sql.catalogue import SqlCatalogue
    from securebox_auth.stores.sql.engine import DatabaseSettings, create_engine, database_url
    from securebox_auth.stores.sql.store import SqlStore

__all__ = ["DatabaseSettings", "SqlCatalogue", "SqlStore", "create_engine", "database_url"]

_LAZY = {
    "DatabaseSettings": "securebox_auth.stores.sql.engine",
    "create_engine": "securebox_auth.stores.sql.engine",
    "database_url": "securebox_auth.stores.sql.engine",
    "SqlCatalogue": "securebox_auth.stores.sql.catalogue",
    "SqlStore": "securebox_auth.stores.sql.store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)
