"""A PostgreSQL cluster of the test's own, to stop and start under load (the machine's
PostgreSQL on port 5432 is never touched).

:func:`postgres_cluster` runs ``initdb`` into a new folder under ``/tmp`` (as the
``postgres`` user when the tests run as root: ``initdb`` refuses root), starts the cluster
on a free loopback port with its socket in that folder, and yields a :class:`Cluster`.
It runs with ``fsync=off``: what a stopped PostgreSQL had committed is still in the
kernel's page cache (only an operating-system crash would lose it, which is not what these
tests do), and the start after a crash-like stop then skips syncing the whole data folder
(~2 s here, 8 s on a loaded machine).
:meth:`Cluster.stop` is ``pg_ctl stop`` (``immediate``: like a crash, ``fast``: a clean
shutdown), :meth:`Cluster.start` starts it again on the same port and data. However the
test ends, the cluster is stopped (``pg_ctl stop -m immediate``, then SIGKILL to the
postmaster's pid read from ``postmaster.pid`` if it is still there) and its folder removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import pytest

__all__ = ["BIN", "Cluster", "StopMode", "cluster", "postgres_cluster"]

#: The PostgreSQL 15 programs of the Debian package.
BIN: Final = Path("/usr/lib/postgresql/15/bin")
#: The owner of the data folder when the tests run as root.
OWNER: Final = "postgres"

StopMode = Literal["immediate", "fast"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    """One cluster: its data folder, socket folder and port."""

    home: Path
    port: int
    #: The addresses it listens on (:func:`postgres_cluster`'s ``listen``).
    listen: tuple[str, ...] = ("127.0.0.1",)

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = list(command)
        if os.geteuid() == 0:
            argv = ["runuser", "-u", OWNER, "--", *argv]
        return subprocess.run(  # noqa: S603 - our programs, our arguments
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )

    def _pg_ctl(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return self._run(str(BIN / "pg_ctl"), "-D", str(self.data), *arguments)

    def start(self) -> None:
        """Start the cluster and wait until it accepts connections."""
        listen = ",".join(self.listen)
        options = f"-p {self.port} -k {self.home} -c listen_addresses={listen} -c fsync=off"
        done = self._pg_ctl("-w", "-t", "60", "-l", str(self.log), "-o", options, "start")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}{self._tail()}")

    def stop(self, mode: StopMode = "fast") -> None:
        """``pg_ctl stop -m mode``: ``immediate`` ends every process at once, like a crash
        (recovery replays the WAL at the next start); ``fast`` rolls back and shuts down."""
        done = self._pg_ctl("-w", "-t", "60", "-m", mode, "stop")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {done.stdout}{done.stderr}")

    def postmaster_pid(self) -> int | None:
        """The running postmaster's pid (first line of ``postmaster.pid``), or None."""
        try:
            first = (self.data / "postmaster.pid").read_text().split("\n", 1)[0]
        except OSError:
            return None
        return int(first) if first.strip().isdigit() else None

    def running(self) -> bool:
        return self._pg_ctl("status").returncode == 0

    def _tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text()[-2000:]
        return ""

    def ensure_stopped(self) -> None:
        """Stop the cluster however it is: ``pg_ctl stop -m immediate``; if its postmaster
        is still alive then, SIGKILL to that pid (ours: we started it)."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._pg_ctl("-w", "-t", "20", "-m", "immediate", "stop")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, 0)
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)  # raises once it is gone
                time.sleep(0.05)


@contextlib.contextmanager
def postgres_cluster(
    listen: tuple[str, ...] = ("127.0.0.1",), clients: str | None = None
) -> Iterator[Cluster]:
    """A new cluster (``initdb``, trust authentication, user ``postgres``), started; stopped
    and removed afterwards. It listens on ``listen`` (addresses that exist when it starts);
    ``clients`` (a network such as ``10.0.0.0/24``) is trusted besides the loopback."""
    if not (BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL programs in {BIN}")
    home = Path(tempfile.mkdtemp(prefix="securebox-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(home, OWNER, OWNER)
        found = Cluster(home, _free_port(), listen)
        made = found._run(
            str(BIN / "initdb"),
            "-D", str(found.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync",
        )  # fmt: skip
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stdout}{made.stderr}")
        if clients is not None:
            with (found.data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
                hba.write(f"host all all {clients} trust\n")
        try:
            found.start()
            yield found
        finally:
            found.ensure_stopped()
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A cluster of this test module's own (initdb costs ~2 s)."""
    with postgres_cluster() as found:
        yield found
