"""Prometheus metrics (``prometheus-client``) at ``/metrics``.

Under several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
before starting (``securebox serve --workers N`` does it for you): each worker then writes
its samples there and ``/metrics`` aggregates them with ``MultiProcessCollector``;
otherwise the process's own registry is served.

Only the addresses of the ``metrics_from`` setting (the host itself by default) may read
them; others get the 404 of an unknown page (ASVS 5.0 V13.4.5: monitoring endpoints are not
exposed to the public). A request that a proxy forwarded counts by its client's address when
the proxy is trusted (``trusted_proxies``), and is refused when it is not: a reverse proxy on
the same host would otherwise make every Internet client look local.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final

from fastapi import APIRouter, HTTPException, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.responses import Response

from securebox_auth.errors import MalformedInput
from securebox_server.net.client_address import client_address, parse_address

if TYPE_CHECKING:
    from securebox_server.web.context import Server

__all__ = ["BODY_CORRUPTED", "observe", "router"]

REQUESTS = Counter(
    "securebox_http_requests",
    "HTTP requests by route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "securebox_http_request_seconds", "Time to answer a request", ["method", "route"]
)
#: The digital box: document bodies that failed their digest check (never served; alert
#: on any increase).
BODY_CORRUPTED = Counter(
    "securebox_box_body_corrupted", "Document bodies that failed their digest check"
)

router = APIRouter()
#: Headers a reverse proxy writes when it forwards a request.
_FORWARDING: Final = frozenset({"x-forwarded-for", "forwarded", "x-real-ip"})


def observe(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def _may_read(request: Request) -> bool:
    # not server_of: the context module imports the box, which imports these metrics
    server: Server = request.app.state.server
    peer = parse_address(request.client.host if request.client is not None else "")
    if peer is None:
        return False
    proxies = server.proxies
    if not proxies.trusts(peer) and any(name in _FORWARDING for name in request.headers):
        return False  # forwarded by a proxy we do not trust
    try:
        address = client_address(str(peer), request.headers.items(), proxies)
    except MalformedInput:
        return False
    return any(address in network for network in server.settings.metrics_networks)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    if not _may_read(request):
        raise HTTPException(status_code=404)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, media_type=CONTENT_TYPE_LATEST)
