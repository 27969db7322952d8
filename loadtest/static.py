"""The downloads' baseline: the same bytes from a static file endpoint, Starlette's
``StaticFiles`` under uvicorn with as many workers as ``securebox serve`` (the same server
stack, without the session, the entitlement check, the database read and the digest check).

``python -m loadtest.static FOLDER PORT WORKERS`` serves ``FOLDER`` at ``/files/`` on
127.0.0.1:PORT; :func:`static_server` starts it in its own process group, waits for it to
answer and stops it by that group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

__all__ = ["FOLDER_ENV", "app", "static_server"]

FOLDER_ENV: Final = "LOADTEST_STATIC_FOLDER"


def app() -> Starlette:
    """The application (a factory: uvicorn's workers each build it)."""
    folder = os.environ[FOLDER_ENV]
    return Starlette(routes=[Mount("/files", StaticFiles(directory=folder))])


@contextlib.contextmanager
def static_server(
    folder: Path, port: int, workers: int, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """The static server on ``port``, ready; stopped (SIGTERM to its group) afterwards."""
    process = subprocess.Popen(  # noqa: S603 - our interpreter, our module
        [sys.executable, "-m", "loadtest.static", str(folder), str(port), str(workers)],
        env={**env, FOLDER_ENV: str(folder)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the static server exited with {process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/files/", timeout=2).status_code == 404:
                    break  # it answers (a folder is not listed)
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the static server did not answer within 60 s")
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


if __name__ == "__main__":
    import uvicorn

    _, served, port, workers = sys.argv
    os.environ[FOLDER_ENV] = served
    uvicorn.run(
        "loadtest.static:app",
        factory=True,
        host="127.0.0.1",
        port=int(port),
        workers=int(workers),
        log_level="warning",
        access_log=False,
    )
