"""The demo server for the browser suite: a fresh SQLite database seeded with the demo's
data (:func:`securebox_server.demo_data.seed`, fast hashing), a real ``uvicorn`` started as
its own process group on a free loopback port, and stopped by its process group id.

The browser visits ``http://localhost:PORT`` (browsers allow passkeys there). The test
process keeps a :class:`Securebox` on the same database and keys, to open fresh users and
publish documents while the server runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import httpx

from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.totp import code_at
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.identity import Principal
from securebox_auth.shell.securebox import Securebox
from securebox_server.box.documents import DocumentStore
from securebox_server.cli import _environment, _uvicorn
from securebox_server.demo_data import prepare, seed
from securebox_server.settings import load_settings
from securebox_server.wiring import build_documents, build_securebox

__all__ = ["CODE", "DemoServer", "User", "demo_server"]

SOURCE: Final = Path(__file__).resolve().parents[2] / "src"
#: The code every fresh user changes their one-time code to.
CODE: Final = "47120938"
BANK: Final = Operator("browser-suite")


@dataclass(frozen=True, slots=True)
class User:
    principal: Principal
    one_time: str
    totp: TotpCredential | None

    @property
    def client(self) -> str:
        return self.principal.client_id.value

    @property
    def number(self) -> str:
        return self.principal.user_number.value

    def totp_code(self) -> str:
        """The code of the next 30-second step (accepted: one step either side): the
        current step's code was used to confirm the enrolment, and a code is single use."""
        assert self.totp is not None, "this user has no TOTP"
        return code_at(self.totp, datetime.now(UTC) + timedelta(seconds=30))


@dataclass
class DemoServer:
    base: str
    box: Securebox
    documents: DocumentStore
    lines: list[str]
    _next_client: int = field(default=600_000_000)

    def demo_line(self, pattern: str) -> re.Match[str]:
        """The first line of the demo's instructions matching ``pattern``."""
        for line in self.lines:
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no demo line matches {pattern!r}")

    def user(
        self, *, change: bool = True, totp: bool = False, strong_at: datetime | None = None
    ) -> User:
        """A new subscription's principal user, made by the library on the server's
        database: its one-time code changed to :data:`CODE` unless ``change`` is false, a
        confirmed TOTP with ``totp``, a last strong login at ``strong_at`` (none: the first
        access asks for strong authentication)."""
        box = self.box
        self._next_client += 1
        principal = Principal.parse(f"{self._next_client:09d}", "01")
        letter = box.codes.create_subscription(BANK, principal)
        if change:
            assert box.codes.change_code(
                principal.client_id.value, "01", letter.reveal(), CODE
            ).changed
        credential = None
        if totp:
            enrolled = box.enrol_first_totp(BANK, principal)
            assert box.confirm_totp(principal, code_at(enrolled.credential, box.clock.now()))
            credential = enrolled.credential
        if strong_at is not None:
            box.store.commit([box.factors.renewal_change(principal, "web", strong_at)], [])
        return User(principal, letter.reveal(), credential)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(base: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group (by its id), SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@contextlib.contextmanager
def demo_server(home: Path) -> Iterator[DemoServer]:
    """The demo's settings (as ``securebox demo`` makes them, rate limits off: every
    browser comes from loopback), its seeded data, and uvicorn with one worker."""
    port = _free_port()
    extra = {
        "SECUREBOX_DATABASE_URL": f"sqlite:///{home / 'demo.db'}",
        "SECUREBOX_MASTER_KEY_FILE": str(home / "master.key"),
        "SECUREBOX_PUBLIC_URL": f"http://localhost:{port}",
        "SECUREBOX_DEMO": "true",
        "SECUREBOX_DEMO_FAST": "1",
        "SECUREBOX_RATE_LIMITS_ENABLED": "false",
        "SECUREBOX_CAP_ISSUER_FILE": str(home / "cap-issuer-keys.json"),
        "SECUREBOX_DEMO_CARDS_DIR": str(home / "cards"),
        **prepare(home),
    }
    lines = seed(extra, fast=True, folder=home)
    settings = load_settings(extra)
    box = build_securebox(settings, argon2=PROFILE_TESTING)
    documents = build_documents(settings, box)
    assert documents is not None
    env = _environment(extra)
    env["PYTHONPATH"] = os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")])
    # our own interpreter and module, on loopback; its own session: stopped by group id
    process = subprocess.Popen(  # noqa: S603
        _uvicorn("127.0.0.1", port, 1), env=env, start_new_session=True
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}", process, 60)
        yield DemoServer(f"http://localhost:{port}", box, documents, lines)
    finally:
        _stop(process)
        box.store.engine.dispose()  # type: ignore[attr-defined]
