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
``securebox_db_pool_checked_out{pool}`` is the number of database connections each pool
(``store``, ``rate_limits``, ``orders``: :func:`watch_pool`) has handed out and not taken
back, summed over the live workers; each worker samples its pools after every request.
Idle, it is at most the few read connections kept aside per engine
(:data:`securebox_auth.stores.sql.read_connections.KEEP`); one that keeps growing is a
leak (alert on it nearing ``pool_size + max_overflow`` per worker).
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Final

from fastapi import APIRouter, HTTPException, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import Engine
from starlette.responses import Response

from securebox_auth.errors import MalformedInput
from securebox_server.net.client_address import client_address, parse_address

if TYPE_CHECKING:
    from securebox_server.web.context import Server

__all__ = ["BODY_CORRUPTED", "POOL_CHECKED_OUT", "observe", "router", "watch_pool"]

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

POOL_CHECKED_OUT = Gauge(
    "securebox_db_pool_checked_out",
    "Database connections checked out of a pool (summed over the live workers)",
    ["pool"],
    multiprocess_mode="livesum",
)

router = APIRouter()
#: Headers a reverse proxy writes when it forwards a request.
_FORWARDING: Final = frozenset({"x-forwarded-for", "forwarded", "x-real-ip"})

#: engine -> its pool's name; weak: an engine disposed of and collected is forgotten.
_pools: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def watch_pool(name: str, engine: Engine) -> None:
    """Report ``engine``'s checked-out connections as ``pool=name`` (pools without a count,
    such as an in-memory SQLite database's single connection, are left out)."""
    if callable(getattr(engine.pool, "checkedout", None)):
        _pools[engine] = name


def _sample_pools() -> None:
    totals: dict[str, int] = {}
    for engine, name in list(_pools.items()):
        totals[name] = totals.get(name, 0) + int(engine.pool.checkedout())  # type: ignore[attr-defined]
    for name, count in totals.items():
        POOL_CHECKED_OUT.labels(name).set(count)


def observe(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)
    _sample_pools()


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
