"""A database that cannot be reached: 503 ``unavailable`` with ``Retry-After``, nothing of the
driver shown; the pools' checked-out connections on ``/metrics``.

The errors are the real ones: psycopg and SQLAlchemy connecting to a loopback port where
nothing listens, raised from routes added to the app for the test. The restart of a real
PostgreSQL under load is :mod:`tests.server.security.test_database_restart`.
"""

from __future__ import annotations

import re
import socket

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from securebox_server.web.errors import UNAVAILABLE_RETRY_S
from tests.server.conftest import AppMaker


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # free again once closed: nothing listens there


def _add_failing_routes(app: FastAPI, port: int) -> None:
    url = f"postgresql://nobody@127.0.0.1:{port}/nothing?connect_timeout=2"

    def driver() -> None:
        psycopg.connect(url).close()

    def pool() -> None:
        engine = create_engine(url.replace("postgresql:", "postgresql+psycopg:"))
        try:
            engine.connect().close()
        finally:
            engine.dispose()

    for prefix in ("", "/api/v1"):
        app.add_api_route(f"{prefix}/test-down/driver", driver)
        app.add_api_route(f"{prefix}/test-down/pool", pool)


@pytest.mark.parametrize("kind", ["driver", "pool"])
def test_unreachable_database_is_a_clean_503(make_app: AppMaker, kind: str) -> None:
    """psycopg's own error (the stores' driver connections) and SQLAlchemy's wrapper (the
    pool's) are 503 ``unavailable`` with ``Retry-After``: the error page, or an RFC 9457
    problem document under ``/api``; never a 500, a trace or the driver's message (which
    names the host and port). OWASP ASVS 5.0 16.5.1 (generic message, no internal detail),
    16.5.3 (fails securely)."""
    client, _, _ = make_app()
    port = _closed_port()
    _add_failing_routes(client.app, port)  # type: ignore[arg-type]
    for path in (f"/test-down/{kind}", f"/api/v1/test-down/{kind}"):
        answer = client.get(path)
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == str(UNAVAILABLE_RETRY_S)
        lowered = answer.text.lower()
        for word in ("traceback", "psycopg", "sqlalchemy", "operationalerror", str(port)):
            assert word not in lowered, (path, word)
        if path.startswith("/api/"):
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["code"] == "unavailable"
        else:
            assert answer.headers["content-type"].startswith("text/html")


def _checked_out(text: str, pool: str) -> int:
    found = re.search(rf'^securebox_db_pool_checked_out\{{pool="{pool}"\}} (\S+)$', text, re.M)
    assert found is not None, f"no gauge for the {pool} pool"
    return int(float(found.group(1)))


def test_pool_gauge_counts_checked_out_connections(make_app: AppMaker) -> None:
    """``securebox_db_pool_checked_out{pool="store"}`` follows a connection taken from the
    store's pool and given back: what tells a pool leak (OWASP ASVS 5.0 15.2.2, resources
    bounded; 16.3.x, operational monitoring)."""
    app_client, box, _ = make_app()
    client = TestClient(app_client.app, client=("127.0.0.1", 50000))  # /metrics: the host only
    engine = box.store.engine  # type: ignore[attr-defined]
    before = _checked_out(client.get("/metrics").text, "store")
    raw = engine.raw_connection()
    try:
        client.get("/healthz")  # the pools are sampled after every request
        assert _checked_out(client.get("/metrics").text, "store") == before + 1
    finally:
        raw.close()
    client.get("/healthz")
    assert _checked_out(client.get("/metrics").text, "store") == before
