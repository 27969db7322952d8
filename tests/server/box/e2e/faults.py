"""What the kill -9 loops of logins and administration share (``test_kill_logins.py``,
``test_kill_admin.py``): users with a confidential code and a TOTP application, the server's
rate limits raised (the loops log in hundreds of times from one address), the kill of a
worker or of the whole server while requests are in flight, and ``securebox audit``
(anchor, checkpoint, verify) run as the operator would, in processes of their own.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Final

from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.factors.totp_verify import code_at
from securebox_auth.identity import Principal
from securebox_server.rate_limits.limiter import DEFAULT_LIMITS
from tests.server.box.conftest import CLIENT
from tests.server.box.e2e.conftest import LiveParts
from tests.server.box.e2e.processes import Processes, wait_for
from tests.server.box.e2e.world import CODE

__all__ = [
    "BACK_OFFICE",
    "WORKERS",
    "AuditCli",
    "Clients",
    "InFlight",
    "Server",
    "raise_limits",
    "totp_users",
]

#: ``securebox serve --workers 2`` on both databases.
WORKERS: Final = 2
BACK_OFFICE: Final = Operator("back-office")


def raise_limits(parts: LiveParts) -> None:
    """Every named rate limit raised far above what a loop sends (the settings file ends
    with its ``[rate_limits]`` table): the loops test crashes, not the limiter."""
    lines = [f'"{name}" = "100000/minute"' for name in DEFAULT_LIMITS if name != "api.sender"]
    with parts.processes.settings.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def totp_users(parts: LiveParts, numbers: list[str]) -> dict[Principal, TotpCredential]:
    """Users of :data:`CLIENT` made by the back office, each with the code
    :data:`~.world.CODE` and a confirmed TOTP application (no recent strong login: a login
    takes the code, then a TOTP code)."""
    box, clock = parts.box, parts.clock
    made: dict[Principal, TotpCredential] = {}
    for number in numbers:
        who = Principal.parse(CLIENT.value, number)
        letter = box.codes.create_account(BACK_OFFICE, who, Role.USER)
        assert box.codes.change_code(CLIENT.value, number, letter.reveal(), CODE).changed
        enrolled = box.enrol_first_totp(BACK_OFFICE, who)
        assert box.confirm_totp(who, code_at(enrolled.credential, clock.now()))
        made[who] = enrolled.credential
    return made


@dataclass
class InFlight:
    """Requests in flight, counted by the client threads (a kill waits for some)."""

    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> None:
        with self.lock:
            self.count += 1

    def __exit__(self, *_: object) -> None:
        with self.lock:
            self.count -= 1


class Clients:
    """Client threads whose failures fail the test (re-raised by :meth:`join`)."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, target: Callable[..., None], *args: object) -> None:
        def run() -> None:
            try:
                target(*args)
            except BaseException as exc:  # re-raised in the test's thread
                self.errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=180)
            assert not thread.is_alive(), "a client thread hangs"
        if self.errors:
            raise self.errors[0]


@dataclass
class Server:
    """``securebox serve --workers 2`` of ``parts``, killed and restarted by :meth:`kill`."""

    parts: LiveParts
    rng: random.Random
    process: Popen[bytes] | None = None
    kills: int = 0
    group_kills: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.parts.port}"

    def start(self) -> None:
        self.process = self.parts.processes.serve(self.parts.port, WORKERS)

    def kill(
        self, flight: InFlight, *, least: int, group: bool = False, every: bool = False
    ) -> None:
        """SIGKILL once ``least`` requests are in flight (after a random few milliseconds):
        one uvicorn worker, or with ``every`` all of them (uvicorn starts others; waited
        for), or with ``group`` every process of the server (then started again, as its
        supervisor would)."""
        server = self.process
        assert server is not None
        deadline = time.monotonic() + 30
        while flight.count < least and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(self.rng.uniform(0, 0.01))
        self.kills += 1
        if group:
            self.group_kills += 1
            os.killpg(server.pid, signal.SIGKILL)  # the group we created for it
            server.wait(timeout=30)
            self.start()
            return
        workers = Processes.server_workers(server)
        victims = workers if every else [self.rng.choice(workers)]
        for victim in victims:
            Processes.kill9(victim)

        def replaced() -> bool:
            live = Processes.server_workers(server)
            return not set(victims) & set(live) and len(live) == WORKERS

        wait_for(replaced, 60, "uvicorn to replace the killed worker")

    def stop(self) -> None:
        if self.process is not None:
            Processes.stop_server(self.process)


class AuditCli:
    """``securebox audit anchor / checkpoint / verify`` on the deployment's database, with
    its audit key in a file and a checkpoint file and signing key of the test's own."""

    def __init__(self, parts: LiveParts) -> None:
        home: Path = parts.processes.home
        self.processes = parts.processes
        key = home / "audit.key"
        key.write_text(parts.box.store.audit_keys.to_hex(), encoding="ascii")  # type: ignore[attr-defined]
        self.database = ["--url", parts.settings.database_url, "--audit-key-file", str(key)]
        self.signing, self.public = str(home / "audit.pem"), str(home / "audit.pub.pem")
        self.points = str(home / "checkpoints.jsonl")
        self._run("keygen", "--signing-key", self.signing, "--public-key", self.public)

    def _run(self, *arguments: str) -> str:
        status, out = self.processes.command("audit", "audit", *arguments)
        assert status == 0, out
        return out

    def verify(self) -> str:
        """Anchor the tenant chains, sign a checkpoint of every head, verify every chain
        (``securebox audit verify`` exits 0); its report."""
        self._run("anchor", *self.database)
        self._run(
            "checkpoint", *self.database, "--checkpoint", self.points,
            "--signing-key", self.signing, "--all-tenants",
        )  # fmt: skip
        out = self._run(
            "verify", *self.database, "--checkpoint", self.points, "--public-key", self.public
        )
        assert "audit chains verified" in out, out
        return out
