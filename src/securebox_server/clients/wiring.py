"""Build :class:`~.service.ApiClients` from the settings, on the library store's engine."""

from __future__ import annotations

from datetime import timedelta

from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.clients.service import ApiClients
from securebox_server.clients.store import ClientStore
from securebox_server.settings import Settings

__all__ = ["build_clients"]


def build_clients(settings: Settings, box: Securebox) -> ApiClients | None:
    """The API clients over the store's database (``None`` without a SQL store)."""
    if not isinstance(box.store, SqlStore):
        return None
    return ApiClients(
        ClientStore(box.store.engine),
        box.clock,
        origin=settings.origin,
        token_lifetime=timedelta(seconds=settings.api_token_seconds),
        library=box.store,
    )
