"""Pages served on the event loop on SQLite (:mod:`securebox_server.web.local_reads`,
ADR 0071): a page that only reads runs every statement on the loop's thread; a page that
must write (the session's touch every ``G``, a session's first home page) starts again in
a worker thread, where its write is done once; no write transaction ever begins on the
loop; other methods run in the thread pool."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from starlette.types import ASGIApp, Receive, Scope, Send

from securebox_auth.policy.session import TOUCH_CEILING
from securebox_server.web.context import Server
from tests.server.box.test_pages import PRINCIPAL, Site, site  # noqa: F401 (a fixture)
from tests.server.conftest import token


@dataclass
class Trace:
    """The SQLite statements of the request under way, with the thread of each, and the
    thread that ran the app (the event loop's)."""

    statements: list[tuple[int, str]] = field(default_factory=list)
    loop: set[int] = field(default_factory=set)

    def connected(self, dbapi_connection: Any, record: Any) -> None:
        del record
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(self._statement)

    def _statement(self, sql: str) -> None:
        self.statements.append((threading.get_ident(), " ".join(sql.split())))

    def app(self, inner: ASGIApp) -> ASGIApp:
        async def traced(scope: Scope, receive: Receive, send: Send) -> None:
            self.loop.add(threading.get_ident())
            await inner(scope, receive, send)

        return traced

    def request(self, browser: TestClient, method: str, path: str, **kwargs: Any) -> Any:
        self.statements.clear()
        self.loop.clear()
        response = browser.request(method, path, **kwargs)
        assert len(self.loop) == 1
        return response

    def on_loop(self) -> list[str]:
        return [sql for thread, sql in self.statements if thread in self.loop]

    def elsewhere(self) -> list[str]:
        return [sql for thread, sql in self.statements if thread not in self.loop]


@pytest.fixture
def trace() -> Iterator[Trace]:
    """Every SQLite connection opened from now on reports its statements (requested
    before ``site``, so that the app's engines are traced from the start)."""
    found = Trace()
    event.listen(Engine, "connect", found.connected)
    yield found
    event.remove(Engine, "connect", found.connected)


def _begins(statements: list[str]) -> list[str]:
    return [sql for sql in statements if sql.upper().startswith("BEGIN IMMEDIATE")]


def _traced_browser(site: Site, trace: Trace) -> TestClient:  # noqa: F811
    site.client = TestClient(trace.app(site.client.app), base_url="http://testserver")
    return site.browser(PRINCIPAL)


def test_a_page_that_only_reads_runs_on_the_loop(trace: Trace, site: Site) -> None:  # noqa: F811
    site.publish()
    browser = _traced_browser(site, trace)
    assert trace.request(browser, "GET", "/home").status_code == 200  # the first: a visit
    first_writes = _begins(trace.elsewhere())
    assert first_writes  # the session's first home page records the visit, in a thread
    assert _begins(trace.on_loop()) == []

    page = trace.request(browser, "GET", "/home")
    assert page.status_code == 200
    assert "Document 1" in page.text
    assert any(sql.upper().startswith("SELECT") for sql in trace.on_loop())
    assert trace.elsewhere() == []  # no hop: every statement on the loop's thread
    assert _begins(trace.on_loop()) == []


def test_a_page_that_must_write_writes_once_in_a_thread(trace: Trace, site: Site) -> None:  # noqa: F811
    browser = _traced_browser(site, trace)
    assert trace.request(browser, "GET", "/home").status_code == 200
    ((_, session),) = site.box.sessions_of(PRINCIPAL)
    site.clock.advance(TOUCH_CEILING + timedelta(seconds=1))  # the touch is due

    assert trace.request(browser, "GET", "/home").status_code == 200
    assert _begins(trace.on_loop()) == []
    assert len(_begins(trace.elsewhere())) == 1  # the touch, once
    ((_, touched),) = site.box.sessions_of(PRINCIPAL)
    assert touched.last_activity == site.clock.now() > session.last_activity

    assert trace.request(browser, "GET", "/home").status_code == 200
    assert trace.elsewhere() == []  # recorded: the next page reads only


def test_a_form_posted_runs_in_the_thread_pool(trace: Trace, site: Site) -> None:  # noqa: F811
    browser = _traced_browser(site, trace)
    csrf = token(trace.request(browser, "GET", "/home").text)
    done = trace.request(
        browser, "POST", "/logout", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303
    assert trace.on_loop() == []
    assert _begins(trace.elsewhere())
    assert site.box.sessions_of(PRINCIPAL) == []


def test_the_server_serves_reads_on_the_loop_on_sqlite_only(site: Site) -> None:  # noqa: F811
    server: Server = site.client.app.state.server  # type: ignore[attr-defined]
    assert server.local_reads is True
