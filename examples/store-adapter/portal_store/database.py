"""A database ready for :class:`~portal_store.store.PortalStore`: the portal's tables (as
its own migrations made them), the ``sb_version`` columns, and securebox's schema."""

from __future__ import annotations

from securebox_auth.stores.sql import migrate
from securebox_auth.stores.sql.engine import create_engine
from sqlalchemy import Engine

from portal_store.schema import add_version_columns, create_portal_tables

__all__ = ["prepare_database"]


def prepare_database(url: str) -> Engine:
    """Create (if missing) the portal's tables, add the adapter's version columns, and run
    securebox's migrations (``securebox db upgrade`` does the same); the engine."""
    engine = create_engine(url)
    create_portal_tables(engine)
    add_version_columns(engine)
    migrate.upgrade(engine)
    return engine
