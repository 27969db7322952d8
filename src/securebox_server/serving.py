"""``python -m securebox_server.serving --host H --port P --workers N``: the server's
uvicorn, each worker on a listening socket of its own (ADR 0055).

With one shared listening socket (what ``uvicorn --workers N`` does) every worker's event
loop waits on the same accept queue, and the first one woken takes every connection that
is pending (asyncio accepts up to the backlog per wake-up): keep-alive connections opened
together (a reverse proxy's upstream pool, a load driver) all land on one worker, and the
other cores idle. Here each worker binds its own socket on the same address with
``SO_REUSEPORT`` and the kernel spreads the connections across them by a hash of their
addresses (Linux 3.9+, ``socket(7)``).

The supervisor is uvicorn's (``Multiprocess``: restarts a dead worker, SIGTERM, SIGHUP),
with one addition (:class:`Supervisor`): when it replaces a worker, it logs why (the
worker's exit code, or the signal that ended it: SIGKILL when it did not answer the
supervisor's health check in time). :mod:`faulthandler` is on in the supervisor and the
workers: a crash in C code leaves every thread's Python stack in the log.

This module imports little (uvicorn, the log format, the parser): a spawned worker imports
it before it can answer the supervisor's first health check (5 s), the application after.

The supervisor holds the port with a bound socket that never listens (the kernel gives a
socket connections only once it listens), and that socket, when pickled to a new worker,
is the order to bind a listening socket of its own: a restarted worker rebinds too.
Without ``SO_REUSEPORT`` (not Linux, or one worker) uvicorn's own socket is used.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import socket
import sys
from typing import Any, Final, SupportsIndex

from uvicorn import Config, Server
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from securebox_server.logs import FIELDS, LEVELS, logging_config
from securebox_server.net.http_parser import BoundedHttpToolsProtocol

__all__ = ["APP", "Supervisor", "config", "main", "replacement_reason", "reuse_port_socket"]

#: The application factory every worker imports.
APP: Final = "securebox_server.factory:app_from_environment"

_log: Final = logging.getLogger("securebox_server.serving")


def replacement_reason(exitcode: int | None, healthcheck_s: float) -> str:
    """Why a worker that ended with ``exitcode`` (:attr:`multiprocessing.Process.exitcode`:
    negative for a signal) was replaced."""
    if exitcode is None:
        return "it is still running"
    if exitcode >= 0:
        return f"it exited with code {exitcode}"
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    if -exitcode == signal.SIGKILL:
        return (
            f"it ended on {name}: it did not answer the supervisor's health check within "
            f"{healthcheck_s:g} s (or the kernel killed it)"
        )
    return f"it ended on {name}"


class Supervisor(Multiprocess):
    """uvicorn's ``Multiprocess``, logging why it replaced a worker (a warning of
    ``securebox_server.serving`` with the old and new process ids)."""

    def keep_subprocess_alive(self) -> None:
        before = list(self.processes)
        super().keep_subprocess_alive()
        for old, new in zip(before, self.processes, strict=False):
            if old is not new:
                reason = replacement_reason(old.exitcode, self.config.timeout_worker_healthcheck)
                fields = {"old_pid": old.pid, "new_pid": new.pid, "exitcode": old.exitcode}
                _log.warning(
                    "worker [%s] replaced by [%s]: %s", old.pid, new.pid, reason,
                    extra={FIELDS: fields},
                )  # fmt: skip


def reuse_port_socket(family: int, host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` with ``SO_REUSEADDR`` and ``SO_REUSEPORT``
    (uvicorn's worker makes it listen)."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class _PortHolder(socket.socket):
    """The supervisor's socket: bound, never listening; each worker gets, in its place,
    a new listening socket of its own on the same address (see the module)."""

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        host, port = self.getsockname()[:2]
        return (reuse_port_socket, (int(self.family), host, port))


def _holder(host: str, port: int) -> _PortHolder:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    holder = _PortHolder(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((host, port))
    return holder


def config(host: str, port: int, workers: int, log_level: str = "info") -> Config:
    """uvicorn's configuration of ``securebox serve``: no ``Server`` header, forwarded
    headers read by the application itself (from trusted proxies only, not by uvicorn,
    which would believe ``X-Forwarded-For`` from 127.0.0.1), JSON log lines on standard
    error from ``log_level`` up (:mod:`securebox_server.logs`; every worker applies it),
    uvicorn's own access log off (the server writes its own, without query strings), the
    httptools parser with a bound on a request's head (ADR 0062)."""
    return Config(
        APP,
        factory=True,
        http=BoundedHttpToolsProtocol,
        host=host,
        port=port,
        workers=workers,
        server_header=False,
        proxy_headers=False,
        log_config=logging_config(log_level),
        log_level=log_level,
        access_log=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m securebox_server.serving")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", choices=LEVELS, default="info")
    args = parser.parse_args(argv)
    if args.workers < 1 or not 0 <= args.port <= 65535:
        parser.error("--workers: 1 or more; --port: 0-65535")
    # a fatal error (a crash in C code: SIGSEGV, SIGABRT, SIGBUS...) writes the Python stacks
    # of every thread to standard error, the log, in the supervisor and in every worker
    # (spawned workers inherit the variable and enable it before anything else runs)
    faulthandler.enable()
    os.environ.setdefault("PYTHONFAULTHANDLER", "1")
    settings = config(args.host, args.port, args.workers, args.log_level)
    if args.workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        server = Server(settings)
        if args.workers == 1:
            server.run()
            return 0 if server.started else STARTUP_FAILURE
        Supervisor(settings, sockets=[settings.bind_socket()]).run()
        return 0
    try:
        holder = _holder(args.host, args.port)
    except OSError as exc:
        print(f"securebox serve: {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return STARTUP_FAILURE
    with holder:
        Supervisor(settings, sockets=[holder]).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
