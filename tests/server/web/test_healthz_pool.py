"""``/healthz`` answers on the event loop: with every thread of the pool busy (synchronous
routes waiting), it still answers at once, where a synchronous ``/healthz`` would wait for
a free thread (a liveness probe failing because requests are slow)."""

from __future__ import annotations

import asyncio
import threading

import anyio.to_thread
import httpx
from fastapi import FastAPI

from tests.server.conftest import AppMaker


def test_healthz_answers_while_the_thread_pool_is_full(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    app = client.app
    assert isinstance(app, FastAPI)
    release = threading.Event()

    @app.get("/busy")
    def busy() -> dict[str, bool]:
        return {"released": release.wait(timeout=30)}

    async def run() -> tuple[int, list[int]]:
        threads = anyio.to_thread.current_default_thread_limiter().total_tokens
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            waiting = [asyncio.create_task(http.get("/busy")) for _ in range(int(threads) + 2)]
            await asyncio.sleep(0.5)  # every pool thread now waits in /busy
            try:
                with anyio.fail_after(5):
                    health = await http.get("/healthz")
            finally:
                release.set()
            done = await asyncio.gather(*waiting)
        return health.status_code, [r.status_code for r in done]

    status, busy_statuses = asyncio.run(run())
    assert status == 200
    assert set(busy_statuses) == {200}
