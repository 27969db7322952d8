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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final

import httpx
import pyotp

from securebox_auth.clock import FixedClock, SystemClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.identity import Principal
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_server.box.documents import DocumentStore
from securebox_server.cli import _environment, _uvicorn
from securebox_server.demo_data import prepare, seed
from securebox_server.settings import load_settings
from securebox_server.wiring import build_documents, build_securebox, load_master_key

__all__ = ["CODE", "Authenticator", "DemoServer", "User", "demo_server"]

SOURCE: Final = Path(__file__).resolve().parents[2] / "src"
#: The code every fresh user changes their one-time code to.
CODE: Final = "47120938"
BANK: Final = Operator("browser-suite")
DEMO_CLIENT: Final = "123456789"
PERIOD: Final = 30


@dataclass
class Authenticator:
    """An authenticator application holding a TOTP secret (pyotp computes the codes). The
    server accepts one step either side of now and each step once: a code is never
    reused, and when both usable steps are spent it waits for the next one."""

    secret: str
    #: The last step used (a new authenticator's: none of the steps the server accepts).
    last_step: int = field(default_factory=lambda: int(time.time()) // PERIOD - 2)

    def code(self) -> str:
        totp = pyotp.TOTP(self.secret)
        while True:
            now, into = divmod(time.time(), PERIOD)
            # the previous step while the server surely still accepts it (3 s of margin)
            steps = (int(now) - 1, int(now), int(now) + 1) if into < PERIOD - 3 else (int(now) + 1,)
            for step in steps:
                if step > self.last_step:
                    self.last_step = step
                    return totp.at(step * PERIOD)
            time.sleep(PERIOD - time.time() % PERIOD + 0.05)


@dataclass(frozen=True, slots=True)
class User:
    principal: Principal
    one_time: str
    app: Authenticator | None

    @property
    def client(self) -> str:
        return self.principal.client_id.value

    @property
    def number(self) -> str:
        return self.principal.user_number.value

    def totp_code(self) -> str:
        assert self.app is not None, "this user has no TOTP"
        return self.app.code()


@dataclass
class DemoServer:
    base: str
    box: Securebox
    documents: DocumentStore
    lines: list[str]
    seeded_step: int
    keys: DerivedKeys
    #: The demo's folder: its outbox (``outbox.jsonl``), cards, certificate, policy.
    home: Path = field(default_factory=Path)
    _next_client: int = field(default=600_000_000)
    _apps: dict[str, Authenticator] = field(default_factory=dict)

    def demo_totp(self, user: str) -> Authenticator:
        """The authenticator of a demo user, from the secret the demo prints."""
        if user not in self._apps:
            secret = self.demo_line(rf"{DEMO_CLIENT} / {user}: .*TOTP ([A-Z2-7]+)").group(1)
            # the seed confirmed the enrolment with a code of its own step, or an earlier one
            self._apps[user] = Authenticator(secret, self.seeded_step)
        return self._apps[user]

    def demo_code(self, user: str) -> str:
        """The confidential code of a demo user."""
        return self.demo_line(rf"{DEMO_CLIENT} / {user}: code (\d{{8}})").group(1)

    def demo_line(self, pattern: str) -> re.Match[str]:
        """The first line of the demo's instructions matching ``pattern``."""
        for line in self.lines:
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no demo line matches {pattern!r}")

    def user(
        self, *, change: bool = True, totp: bool = False, strong_days_ago: float | None = None
    ) -> User:
        """A new subscription's principal user, made by the library on the server's
        database: its one-time code changed to :data:`CODE` unless ``change`` is false, a
        confirmed TOTP with ``totp``, a last strong login ``strong_days_ago`` (none: the
        first access asks for strong authentication). The account is opened a day before
        that login (a strong login older than the account is a previous holder's)."""
        box = self.box
        if strong_days_ago is not None:
            box = Securebox.from_policy(
                self.box.policy,
                store=self.box.store,
                keys=self.keys,
                clock=FixedClock(SystemClock().now() - timedelta(days=strong_days_ago + 1)),
                argon2=PROFILE_TESTING,
            )
        self._next_client += 1
        principal = Principal.parse(f"{self._next_client:09d}", "01")
        letter = box.codes.create_subscription(BANK, principal)
        if change:
            assert box.codes.change_code(
                principal.client_id.value, "01", letter.reveal(), CODE
            ).changed
        app = None
        if totp:
            enrolled = box.enrol_first_totp(BANK, principal)
            app = Authenticator(enrolled.secret())
            assert self.box.confirm_totp(principal, app.code())  # on the real clock
        if strong_days_ago is not None:
            at = SystemClock().now() - timedelta(days=strong_days_ago)
            box.store.commit([box.factors.renewal_change(principal, "web", at)], [])
        return User(principal, letter.reveal(), app)


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
def demo_server(
    home: Path, *, database_url: str | None = None, env: Mapping[str, str] | None = None
) -> Iterator[DemoServer]:
    """The demo's settings (as ``securebox demo`` makes them, rate limits off: every
    browser comes from loopback), its seeded data, and uvicorn with one worker; on SQLite
    in ``home``, or on ``database_url`` (an empty PostgreSQL database); ``env``: more
    settings (``SECUREBOX_SMTP_URL``, ``SECUREBOX_SMS_URL``, a policy...)."""
    port = _free_port()
    extra = {
        "SECUREBOX_DATABASE_URL": database_url or f"sqlite:///{home / 'demo.db'}",
        "SECUREBOX_MASTER_KEY_FILE": str(home / "master.key"),
        "SECUREBOX_PUBLIC_URL": f"http://localhost:{port}",
        "SECUREBOX_DEMO": "true",
        "SECUREBOX_DEMO_FAST": "1",
        "SECUREBOX_RATE_LIMITS_ENABLED": "false",
        "SECUREBOX_CAP_ISSUER_FILE": str(home / "cap-issuer-keys.json"),
        "SECUREBOX_DEMO_CARDS_DIR": str(home / "cards"),
        **prepare(home),
        **(env or {}),
    }
    lines = seed(extra, fast=True, folder=home)
    seeded_step = int(time.time()) // PERIOD
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
        yield DemoServer(
            f"http://localhost:{port}",
            box,
            documents,
            lines,
            seeded_step,
            load_master_key(settings),
            home,
        )
    finally:
        _stop(process)
        box.store.engine.dispose()  # type: ignore[attr-defined]
