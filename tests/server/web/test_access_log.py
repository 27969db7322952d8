"""The middleware (a plain ASGI middleware since ADR 0055): a request id given by the
client is kept when well-formed and replaced otherwise, the one access line per request
is written only when its logger is on and carries the route template, never the query
string; an exception that escapes a route is answered by the last net, with the headers."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import FastAPI

from securebox_server.logs import JsonLines
from tests.server.conftest import AppMaker


def test_a_well_formed_request_id_is_kept_and_another_replaced(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    kept = client.get("/healthz", headers={"X-Request-Id": "trace-0123456789"})
    assert kept.headers["x-request-id"] == "trace-0123456789"
    replaced = client.get("/healthz", headers={"X-Request-Id": "bad id\x7f"})
    assert replaced.headers["x-request-id"] != "bad id\x7f"
    assert len(replaced.headers["x-request-id"]) == 16


def test_one_access_line_with_the_route_template_and_no_query(
    make_app: AppMaker, caplog: pytest.LogCaptureFixture
) -> None:
    client, _, _ = make_app()
    with caplog.at_level(logging.INFO, logger="securebox_server.access"):
        client.get("/login?secret=hunter2", headers={"X-Request-Id": "trace-abcdefgh"})
    (found,) = [r for r in caplog.records if r.name == "securebox_server.access"]
    record = found.__dict__["fields"]
    assert record["request_id"] == "trace-abcdefgh"
    assert record["route"] == "/login"
    assert record["status"] == 200
    assert found.getMessage() == "GET /login 200"
    line = JsonLines().format(found)
    assert json.loads(line)["route"] == "/login"
    assert "hunter2" not in line


def test_no_access_line_when_the_logger_is_off(
    make_app: AppMaker, caplog: pytest.LogCaptureFixture
) -> None:
    client, _, _ = make_app()
    with caplog.at_level(logging.WARNING, logger="securebox_server.access"):
        client.get("/healthz")
    assert not [r for r in caplog.records if r.name == "securebox_server.access"]


def test_an_escaped_exception_is_answered_with_the_headers(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    app = client.app
    assert isinstance(app, FastAPI)

    @app.get("/boom")
    def boom() -> None:
        raise LookupError("a bug, never shown")

    answer = client.get("/boom")
    assert answer.status_code == 503
    assert "never shown" not in answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert len(answer.headers["x-request-id"]) >= 8
