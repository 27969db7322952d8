"""``create_app(settings) -> FastAPI``: the reference server.

Tests (and embedders) pass their own parts: ``create_app(settings, securebox=box)`` uses a
ready :class:`~securebox_auth.shell.securebox.Securebox` (for instance one built with a
``FixedClock`` and ``PROFILE_TESTING``), ``clock=`` and ``argon2=`` are used when the app
builds it from the settings, ``limits=`` replaces the rate limits (by default the database
limiter of the settings, :func:`~securebox_server.wiring.build_limits`).
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from securebox_auth.clock import Clock
from securebox_auth.crypto.hashing import PROFILE_2026, Argon2Parameters
from securebox_auth.shell.audit_checkpoint import FileCheckpoints
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_server import admin, demo_reader, methods, profile, recovery, stepup
from securebox_server.account import api, home
from securebox_server.admin import companies as admin_companies
from securebox_server.admin import companies_api as admin_companies_api
from securebox_server.admin import third_parties as admin_third_parties
from securebox_server.api import batches as api_batches
from securebox_server.api import common as api_common
from securebox_server.api import documents as api_documents
from securebox_server.api import login as api_login
from securebox_server.api import operations as api_operations
from securebox_server.api import receivers as api_receivers
from securebox_server.api import senders as api_senders
from securebox_server.api import shares as api_shares
from securebox_server.api import step_up as api_step_up
from securebox_server.api import tokens as api_tokens
from securebox_server.audit_anchor import AuditAnchoring, load_checkpoint_key
from securebox_server.box import contact_api as box_contact_api
from securebox_server.box import contact_pages as box_contact_pages
from securebox_server.box import pages as box_pages
from securebox_server.box import share_pages as box_share_pages
from securebox_server.box.documents import DocumentStore
from securebox_server.box.reading import BoxReader
from securebox_server.clients import caller as clients_caller
from securebox_server.clients import endpoint as clients_endpoint
from securebox_server.clients.wiring import build_clients
from securebox_server.invitations import pages as invitation_pages
from securebox_server.invitations import wiring as invitations_wiring
from securebox_server.jobs import reports as sms_reports
from securebox_server.login import identify, steps
from securebox_server.net.client_address import TrustedProxies
from securebox_server.rate_limits import Limiter, LoginLimits
from securebox_server.settings import Settings
from securebox_server.throttle import RateLimits
from securebox_server.web import (
    demo_outbox,
    errors,
    health,
    metrics,
    middleware,
    preferences,
    route_index,
)
from securebox_server.web.context import Server
from securebox_server.web.cookies import CookieNames
from securebox_server.web.pages import build_environment
from securebox_server.wiring import (
    build_documents,
    build_limits,
    build_securebox,
    load_master_key,
)

__all__ = ["create_app"]

STATIC = Path(__file__).parent / "static"


def _server_key(keys: DerivedKeys, purpose: bytes) -> bytes:
    """A server key of its own purpose, derived from the current master key."""
    master = keys.master.keys[keys.master.current]
    return hmac.new(master, b"securebox-server/" + purpose, hashlib.sha256).digest()


def _anchoring(settings: Settings, box: Securebox) -> AuditAnchoring | None:
    """The audit anchoring task of the settings (ADR 0021), or ``None`` when off."""
    if not settings.audit_anchor_seconds:
        return None
    sink = key = None
    if settings.audit_checkpoint_file is not None and settings.audit_checkpoint_key_file:
        sink = FileCheckpoints(settings.audit_checkpoint_file)
        key = load_checkpoint_key(settings.audit_checkpoint_key_file)
    return AuditAnchoring(box, settings.audit_anchor_seconds, sink, key)


def _reader(documents: DocumentStore | None, box: Securebox, keys: DerivedKeys) -> BoxReader | None:
    """What users of the box see, on the box's documents (``None`` without them)."""
    if documents is None:
        return None
    key = _server_key(keys, b"box-cursor")
    return BoxReader(documents, box, documents.catalogue, cursor_key=key)


def _local_reads(box: Securebox) -> bool:
    """Serve reads on the event loop (:mod:`securebox_server.web.local_reads`): when the
    store's reads are calls into this process (SQLite, or the memory store of tests)."""
    engine = getattr(box.store, "engine", None)
    return engine is None or engine.dialect.name == "sqlite"


def create_app(
    settings: Settings,
    *,
    securebox: Securebox | None = None,
    keys: DerivedKeys | None = None,
    clock: Clock | None = None,
    argon2: Argon2Parameters = PROFILE_2026,
    limits: RateLimits | None = None,
) -> FastAPI:
    """The server on ``settings`` (see the module documentation for the test seams)."""
    keys = keys or load_master_key(settings)
    box = securebox or build_securebox(settings, clock=clock, argon2=argon2, keys=keys)
    guard: LoginLimits | None
    if limits is None:
        limits, guard = build_limits(settings, box.clock)
    else:
        guard = LoginLimits(limits) if isinstance(limits, Limiter) else None
    engine = getattr(box.store, "engine", None)
    if engine is not None:
        metrics.watch_pool("store", engine)
    anchoring = _anchoring(settings, box)
    documents = build_documents(settings, box)
    app = FastAPI(
        title="securebox",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        lifespan=None if anchoring is None else anchoring.lifespan(),
    )
    app.state.server = Server(
        settings=settings,
        box=box,
        csrf_key=_server_key(keys, b"csrf"),
        limits=limits,
        login_limits=guard,
        proxies=TrustedProxies.parse(settings.trusted_proxies),
        templates=build_environment(),
        cookies=CookieNames(secure=settings.tls),
        documents=documents,
        clients=build_clients(settings, box),
        reader=_reader(documents, box, keys),
        local_reads=_local_reads(box),
    )
    errors.install(app)
    clients_caller.install(app)
    middleware.install(app, tls=settings.tls, agent_origin=settings.agent_origin)
    for router in (
        health.router,
        metrics.router,
        preferences.router,
        identify.router,
        steps.router,
    ):
        app.include_router(router)
    for method in methods.registered():
        app.include_router(method.router)
    if settings.demo:  # the virtual CAP reader: never with production settings
        app.include_router(demo_reader.router)
    if settings.demo and settings.outbox is not None:
        app.include_router(demo_outbox.router)
    app.include_router(home.router)
    app.include_router(box_pages.router)
    app.include_router(box_share_pages.router)
    app.include_router(box_contact_pages.router)
    app.include_router(api.router)
    stepup.install(app, settings)
    profile.install(app, box)
    invitations_wiring.install(app, settings)
    app.include_router(admin_companies.router)
    app.include_router(admin_third_parties.router)
    app.include_router(invitation_pages.router)
    app.include_router(admin_companies_api.router)
    admin.install(app, settings)
    recovery.install(app, keys)
    api_common.install(app, keys)
    for api_router in (
        api_login.router,
        api_step_up.router,
        api_operations.router,
        api_tokens.router,
        clients_endpoint.router,
        api_senders.router,
        api_batches.router,
        api_receivers.router,
        api_documents.router,
        api_shares.router,
        box_contact_api.router,
    ):
        app.include_router(api_router)
    if settings.sms_url:  # the SMS provider's delivery reports (jobs, ADR 0033)
        app.include_router(sms_reports.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    route_index.install(app)  # last: every route is declared (ADR 0061)
    return app
