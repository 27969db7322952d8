"""Real processes for the box's end-to-end and fault tests: ``securebox serve --workers N``
(its own process group), ``securebox jobs run`` and ``securebox jobs worker``, all on one
settings file and the settable clock of :mod:`.clock`.

Only processes started here are ever signalled, by their pid (a server's uvicorn workers
are found among the descendants of the server we started).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx

from tests.server.box.e2e.clock import CLOCK_ENV, HOOK

__all__ = ["Processes", "free_port", "wait_for"]

ROOT: Final = Path(__file__).resolve().parents[4]
SOURCE: Final = ROOT / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(until: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not until():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found += [int(p) for p in text.split()]
    return found


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class Processes:
    """The processes of one deployment: ``settings`` file, ``clock_file`` (the offset),
    logs under ``home``."""

    settings: Path
    clock_file: Path
    home: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        path = os.pathsep.join([str(HOOK), str(ROOT), str(SOURCE)])
        return {
            **os.environ,
            "PYTHONPATH": path,
            CLOCK_ENV: str(self.clock_file),
            "SECUREBOX_SETTINGS": str(self.settings),
        }

    def _start(self, name: str, *arguments: str, group: bool = False) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "securebox_auth.cli", *arguments]
        log = (self.home / f"{name}-{len(self.started)}.log").open("wb")
        with log:
            process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
                command,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=group,
            )
        self.started.append(process)
        return process

    # -- the server -------------------------------------------------------------------------

    def serve(self, port: int, workers: int) -> subprocess.Popen[bytes]:
        """``securebox serve`` in its own process group, once ``/readyz`` answers."""
        server = self._start(
            "serve", "serve", "--workers", str(workers), "--port", str(port), group=True
        )
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            assert server.poll() is None, f"the server exited with {server.returncode}"
            try:
                return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, 90, "the server")
        if workers > 1:
            wait_for(lambda: len(self.server_workers(server)) == workers, 30, "its workers")
        return server

    @staticmethod
    def uvicorn(server: subprocess.Popen[bytes]) -> int:
        """The pid of the uvicorn process the CLI started (with one worker, it serves):
        ``python -m securebox_server.serving`` (ADR 0055)."""
        (pid,) = [p for p in _children(server.pid) if " securebox_server.serving " in _cmdline(p)]
        return pid

    @staticmethod
    def server_workers(server: subprocess.Popen[bytes]) -> list[int]:
        """The pids of the uvicorn workers of ``server`` (spawned by uvicorn's supervisor)."""
        return [
            pid
            for pid in _descendants(server.pid)
            if "spawn_main" in _cmdline(pid) and "resource_tracker" not in _cmdline(pid)
        ]

    @staticmethod
    def stop_server(server: subprocess.Popen[bytes]) -> None:
        """SIGTERM to the group we created for it (the CLI, uvicorn and its workers)."""
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):  # a worker outliving the CLI
            os.killpg(server.pid, signal.SIGKILL)

    # -- the jobs ---------------------------------------------------------------------------

    def jobs_run(self) -> str:
        """``securebox jobs run`` (one pass, a process of its own); its report."""
        process = self._start("jobs-run", "jobs", "run")
        assert process.wait(timeout=120) == 0, self.log_of(process)
        return self.log_of(process)

    def command(self, name: str, *arguments: str) -> tuple[int, str]:
        """``securebox ARGUMENTS...`` in a process of its own: its exit status and output."""
        process = self._start(name, *arguments)
        status = process.wait(timeout=120)
        return status, self.log_of(process)

    def jobs_worker(self, *options: str) -> subprocess.Popen[bytes]:
        return self._start("jobs-worker", "jobs", "worker", *options)

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        index = self.started.index(process)
        (log,) = self.home.glob(f"*-{index}.log")
        return log.read_text(errors="replace")

    @staticmethod
    def kill9(pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        for process in self.started:
            if process.poll() is None:
                if process.args[3:4] == ["serve"]:  # type: ignore[index]
                    self.stop_server(process)
                else:
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
