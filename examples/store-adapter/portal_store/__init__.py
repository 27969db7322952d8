"""securebox's store Protocol over a portal's existing ``portal_users`` and
``portal_credentials`` tables (an example; see README.md)."""

from portal_store.schema import add_version_columns, create_portal_tables
from portal_store.store import PortalStore

__all__ = ["PortalStore", "add_version_columns", "create_portal_tables"]
