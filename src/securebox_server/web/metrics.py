"""Prometheus metrics (``prometheus-client``) at ``/metrics``.

Under several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
before starting (``securebox serve --workers N`` does it for you): each worker then writes
its samples there and ``/metrics`` aggregates them with ``MultiProcessCollector``;
otherwise the process's own registry is served.
"""

from __future__ import annotations

import os

from fastapi import APIRouter
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.responses import Response

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


def observe(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, media_type=CONTENT_TYPE_LATEST)
