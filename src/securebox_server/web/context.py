"""What every route reaches through ``request.app.state.server``: one frozen value built by
:func:`securebox_server.app.create_app` (the Warehouse "look a service up" pattern, without
a registry: the attributes are the services)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from securebox_auth.shell.securebox import Securebox
from securebox_server.box.documents import DocumentStore
from securebox_server.box.reading import BoxReader
from securebox_server.clients.service import ApiClients
from securebox_server.net.client_address import TrustedProxies
from securebox_server.rate_limits.login import LoginLimits
from securebox_server.settings import Settings
from securebox_server.throttle import RateLimits
from securebox_server.web.cookies import CookieNames
from securebox_server.web.page_templates import PageTemplates

__all__ = ["Server", "server_of"]


@dataclass(frozen=True, slots=True)
class Server:
    settings: Settings
    box: Securebox
    #: The key of the CSRF tokens (derived from the master key, never logged).
    csrf_key: bytes = field(repr=False)
    limits: RateLimits
    templates: PageTemplates
    cookies: CookieNames
    #: The login's failure budgets (ADR 0026) when ``limits`` is the database limiter.
    login_limits: LoginLimits | None = None
    #: The proxies whose ``X-Forwarded-For`` is believed (settings ``trusted_proxies``).
    proxies: TrustedProxies = field(default_factory=TrustedProxies)
    #: The digital box's documents (ADR 0030); ``None`` without a SQL store.
    documents: DocumentStore | None = None
    #: The box's API clients and their tokens (securebox_server.clients); SQL store only.
    clients: ApiClients | None = None
    #: What users of the box see (home, search, documents); ``None`` when the box is off.
    reader: BoxReader | None = None
    #: Serve reads on the event loop (the store is SQLite: :mod:`.local_reads`).
    local_reads: bool = False


def server_of(request: Request) -> Server:
    found: Server = request.app.state.server
    return found
