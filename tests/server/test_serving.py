"""``securebox serve --workers 2`` spreads keep-alive connections over its workers (each
worker listens on a socket of its own, ``SO_REUSEPORT``: ADR 0055), a worker killed is
replaced by one that listens and serves too, and a port already taken fails the start
(real processes on loopback, SQLite; a few seconds)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from prometheus_client.mmap_dict import MmapedDict

from securebox_server.wiring import write_master_key
from tests.server.box.e2e.processes import Processes, free_port, wait_for

pytestmark = pytest.mark.slow  # a server with two workers (~5 s)

SOURCE = Path(__file__).resolve().parents[2] / "src"
#: Keep-alive connections opened at the same moment (a proxy's pool, a load driver).
CONNECTIONS = 16


@dataclass
class Served:
    port: int
    process: subprocess.Popen[bytes]
    metrics: Path
    #: The server's standard error: its log lines (and faulthandler's stacks).
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def workers(self) -> list[int]:
        return Processes.server_workers(self.process)

    def counted(self) -> dict[int, int]:
        """``GET /healthz`` requests counted by each worker (its own metrics file)."""
        counts = {}
        reader: Callable[..., Any] = MmapedDict  # prometheus_client's, not annotated
        for path in self.metrics.glob("counter_*.db"):
            values = reader(str(path), read_mode=True)
            try:
                counts[int(path.stem.rpartition("_")[2])] = int(
                    sum(v for k, v, _ in values.read_all_values() if '"/healthz"' in k)
                )
            finally:
                values.close()
        return counts


def _settings(home: Path, port: int) -> Path:
    key = home / "master.key"
    write_master_key(key)
    path = home / "settings.toml"
    path.write_text(
        f'database_url = "sqlite:///{home}/serve.db"\nmaster_key_file = "{key}"\n'
        f'public_url = "http://127.0.0.1:{port}"\n',
        encoding="utf-8",
    )
    return path


def _serve(
    home: Path, port: int, stderr: int | IO[bytes] = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    (home / "metrics").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")]),
        "PROMETHEUS_MULTIPROC_DIR": str(home / "metrics"),
    }
    command = [sys.executable, "-m", "securebox_auth.cli", "serve", "--workers", "2"]
    command += ["--port", str(port), "--settings", str(_settings(home, port))]
    return subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
        command, env=env, start_new_session=True, stderr=stderr
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as err:
        process = _serve(tmp_path, port, err)
    try:
        made = Served(port, process, tmp_path / "metrics", log)
        wait_for(lambda: len(made.workers()) == 2, 60, "two workers")
        wait_for(lambda: _listening(port) == 2, 60, "two listening sockets")
        wait_for(lambda: _ready(port), 60, "the server")
        yield made
    finally:
        Processes.stop_server(process)


def _listening(port: int) -> int:
    """Sockets listening on 127.0.0.1:``port`` (``/proc/net/tcp``: one per worker here,
    where a shared socket is one for all)."""
    local = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == local and line.split()[3] == "0A")


def _ready(port: int) -> bool:
    try:
        return _healthz(socket.create_connection(("127.0.0.1", port), timeout=5), 1)
    except OSError:
        return False


def _healthz(connection: socket.socket, times: int) -> bool:
    """``times`` GET /healthz on one keep-alive connection: all 200?"""
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with connection:
        for _ in range(times):
            connection.sendall(request)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = connection.recv(65536)
                if not chunk:
                    return False
                head += chunk
            header, _, body = head.partition(b"\r\n\r\n")
            length = int(header.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            while len(body) < length:
                body += connection.recv(65536)
            if not header.startswith(b"HTTP/1.1 200"):
                return False
    return True


def _burst(port: int) -> None:
    """:data:`CONNECTIONS` connections opened at once, then a few requests on each."""
    connections = [
        socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(CONNECTIONS)
    ]
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        assert all(pool.map(lambda c: _healthz(c, 5), connections))


def test_connections_opened_together_are_served_by_both_workers(served: Served) -> None:
    before = served.counted()  # the readiness probes
    _burst(served.port)
    after = served.counted()
    served_now = {pid for pid, n in after.items() if n > before.get(pid, 0)}
    # one shared socket gave all of them to the worker woken first (ADR 0055); two sockets
    # get a hash's share each: all 16 on one side has a chance of 2 in 65,536
    assert served_now == set(served.workers())
    assert sum(after.values()) - sum(before.values()) == CONNECTIONS * 5


def test_a_killed_worker_is_replaced_by_one_that_listens(served: Served) -> None:
    first, second = served.workers()
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: first not in served.workers() and len(served.workers()) == 2, 60, "another")
    wait_for(lambda: _listening(served.port) == 2, 60, "the new worker's socket")
    (replacement,) = set(served.workers()) - {second}
    deadline = time.monotonic() + 30
    while replacement not in served.counted():
        assert time.monotonic() < deadline, "the new worker never served"
        _burst(served.port)
    assert served.process.poll() is None
    # the supervisor says which worker it replaced, by which, and why
    line = f"worker [{first}] replaced by [{replacement}]: it ended on SIGKILL"
    assert line in served.log_text()


def test_a_crashed_worker_leaves_its_stacks_in_the_log(served: Served) -> None:
    """A worker ended by a fatal signal (a crash in C code) writes every thread's Python
    stack to the log (faulthandler, inherited from the supervisor), and the supervisor
    logs the signal when it replaces it."""
    first, _ = served.workers()
    os.kill(first, signal.SIGSEGV)
    wait_for(lambda: first not in served.workers() and len(served.workers()) == 2, 60, "another")
    wait_for(lambda: f"worker [{first}] replaced by [" in served.log_text(), 30, "the log line")
    text = served.log_text()
    assert "Fatal Python error: Segmentation fault" in text
    assert "Current thread" in text or "Thread 0x" in text
    assert f"worker [{first}] replaced by [" in text
    assert "]: it ended on SIGSEGV" in text
    wait_for(lambda: _ready(served.port), 60, "the server")


def test_a_worker_starts_answering_health_checks_without_the_application() -> None:
    """A spawned worker imports :mod:`securebox_server.serving` before it can answer the
    supervisor's health checks (uvicorn kills a worker silent for 5 s): that module stays
    light, the library and the application are imported after."""
    code = (
        "import sys, securebox_server.serving; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('securebox_auth', 'fastapi', 'sqlalchemy', 'starlette')))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(  # noqa: S603 - our interpreter
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_server_bounds_a_request_head(served: Served) -> None:
    """``securebox serve`` parses with the bounded httptools protocol (ADR 0062): 431 past
    64 KiB of head, 400 without a Host field, and it goes on serving."""
    for request, status in (
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n", 431),
        (b"GET /healthz HTTP/1.1\r\n\r\n", 400),
    ):
        with socket.create_connection(("127.0.0.1", served.port), timeout=30) as connection:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                connection.sendall(request)  # refused before the end of the head
            assert connection.recv(65536).startswith(b"HTTP/1.1 %d " % status)
    assert _ready(served.port)


def test_a_port_already_taken_fails_the_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _serve(tmp_path, port, subprocess.PIPE)
        try:
            _, err = process.communicate(timeout=60)
        finally:
            Processes.stop_server(process)
    assert process.returncode != 0
    assert f"127.0.0.1:{port}" in err.decode()
