"""What one authenticated page costs through the whole ASGI app, in-process: the tests'
SQLite box (24 documents), a logged-in browser's cookie, then ``N`` requests of ``PATH``
sent straight to the app (no HTTP client, no socket), and the CPU a request took.

``--inline`` runs FastAPI's thread-pool calls on the event loop, to measure what the thread
hops of a page cost (since ADR 0071 a page on SQLite runs on the loop already, unless it
writes: the option then only moves the writes); ``--split`` also times the
page's template rendering apart. Under ``valgrind --tool=callgrind`` (``PYTHONHASHSEED=0``,
the interpreter's own binary, not a shell shim), runs with ``N=0`` and ``N=100`` give the
instructions of one request by difference. Usage:
``python3 benchmarks/page_request_cost.py N [--path /home] [--inline] [--split]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from tests.server.box.conftest import (  # noqa: E402
    C1,
    CLIENT,
    PAYSLIP,
    T0,
    TAX_NOTICE,
    seed_world,
    who,
)
from tests.server.box.test_pages import Site  # noqa: E402

from securebox_auth.clock import FixedClock  # noqa: E402
from securebox_auth.crypto.hashing import PROFILE_TESTING  # noqa: E402
from securebox_auth.shell.keys import DerivedKeys  # noqa: E402
from securebox_auth.stores.sql import migrate  # noqa: E402
from securebox_auth.stores.sql.engine import create_engine  # noqa: E402
from securebox_server.app import create_app  # noqa: E402
from securebox_server.db import migrate as server_migrate  # noqa: E402
from securebox_server.settings import Settings  # noqa: E402
from securebox_server.wiring import build_securebox  # noqa: E402

#: The rendering time of the pages that render (``--split``).
RENDERED: list[float] = [0.0]


def _inline() -> None:
    """Run the thread-pool calls on the loop (what a page costs without its two hops)."""
    import fastapi.dependencies.utils  # noqa: PLC0415
    import fastapi.routing  # noqa: PLC0415
    import starlette.concurrency  # noqa: PLC0415

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    for module in (starlette.concurrency, fastapi.routing, fastapi.dependencies.utils):
        if hasattr(module, "run_in_threadpool"):
            module.run_in_threadpool = inline  # type: ignore[attr-defined]


def _split() -> None:
    from jinja2 import Template  # noqa: PLC0415

    original = Template.render

    def timed(self: Template, *args: Any, **kwargs: Any) -> str:
        start = time.thread_time()
        try:
            return original(self, *args, **kwargs)
        finally:
            RENDERED[0] += time.thread_time() - start

    Template.render = timed  # type: ignore[method-assign]


def main(n: int, path: str) -> None:
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{home}/server.db"
        engine = create_engine(url)
        migrate.upgrade(engine)
        server_migrate.upgrade(engine)
        engine.dispose()
        settings = Settings(
            database_url=url, public_url="http://testserver", demo=True, rate_limits_enabled=False
        )
        clock, keys = FixedClock(T0), DerivedKeys.generate()
        box = build_securebox(settings, clock=clock, argon2=PROFILE_TESTING, keys=keys)
        app = create_app(settings, securebox=box, keys=keys)
        client = TestClient(app, base_url="http://testserver")
        seed_world(box)
        reader = app.state.server.reader
        reader.store.define_type(PAYSLIP)
        reader.store.define_type(TAX_NOTICE)
        site = Site(client, box, clock, reader)
        for _ in range(24):
            site.publish("payslip", C1)
        browser = site.browser(who(CLIENT, "01"))
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        assert browser.get(path).status_code == 200
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        async def requests(count: int) -> None:
            for _ in range(count):
                await app(dict(scope, state={}), receive, send)

        asyncio.run(requests(3))  # warm
        RENDERED[0] = 0.0
        start = time.process_time()
        asyncio.run(requests(n))
        spent = time.process_time() - start
        assert set(statuses) == {200}, statuses
        if n:
            each = f"{spent / n * 1e6:.0f} µs of CPU a request"
            rendered = f", rendering {RENDERED[0] / n * 1e6:.0f} µs" if RENDERED[0] else ""
            print(f"{path}: {n} requests, {each}{rendered}", file=sys.stderr)
        client.close()
        box.store.engine.dispose()  # type: ignore[attr-defined]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--path", default="/home")
    parser.add_argument("--inline", action="store_true")
    parser.add_argument("--split", action="store_true")
    options = parser.parse_args()
    if options.inline:
        _inline()
    if options.split:
        _split()
    main(options.n, options.path)
