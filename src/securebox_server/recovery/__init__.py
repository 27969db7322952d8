"""Account recovery pages and API (issue 16): a forgotten code (an e-mail link to choose a
new one), a forgotten identifier (sent by SMS after the confidential code). Flows are
resources with ids and expiry (:mod:`securebox_auth.flows.recovery`), single use,
rate-limited (``recovery.*`` in ``DEFAULT_LIMITS``), notified on the other channel and
audited. Recovery never opens a session: see ``docs/recovery.md`` and ADR 0040."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import FastAPI

from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.recovery import api, pages, question_pages
from securebox_server.recovery.service import RecoveryService, service_of
from securebox_server.recovery.store import RecoveryStore

__all__ = ["install", "service_of"]


def install(app: FastAPI, keys: DerivedKeys) -> None:
    """After ``app.state.server``: the service on the store's engine, and the routes."""
    server = app.state.server
    store = server.box.store
    if not isinstance(store, SqlStore):
        return
    master = keys.master.keys[keys.master.current]
    key = hmac.new(master, b"securebox-server/recovery-link", hashlib.sha256).digest()
    app.state.recovery = RecoveryService(
        server.box, RecoveryStore(store.engine), key, server.settings.public_url
    )
    app.include_router(pages.router)
    app.include_router(question_pages.router)
    app.include_router(api.router)
