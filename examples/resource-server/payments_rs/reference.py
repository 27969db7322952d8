"""The other side, for the walk-through and the tests: a real securebox reference server
with the demo's data, and a client of its JSON API that plays the portal's front end
(log in, step up for a transfer, ask for an assertion for this service).

:func:`reference_server` seeds the demo (``securebox_server.demo_data``: user 01 with code
``47120938``, strong authentication recent, and a demo certificate whose key is
``demo-01.key``) with cheap argon2id parameters, then runs ``securebox serve`` on a free
loopback port as its own process group, and stops that group at the end.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from securebox_server.demo_data import prepare, seed

__all__ = [
    "CODE",
    "PortalClient",
    "ReferenceServer",
    "free_port",
    "reference_server",
    "stop_group",
    "wait_ready",
]

#: Demo user 01's confidential code (``securebox_server.demo_data``).
CODE: Final = "47120938"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url}: not ready after {seconds} s")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group we started (the CLI, uvicorn, its workers)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):  # a worker outliving the CLI process
        os.killpg(process.pid, signal.SIGTERM)


@dataclass(frozen=True, slots=True)
class ReferenceServer:
    #: Where to connect (the loopback address).
    base: str
    #: Its public origin: the ``iss`` of its assertions.
    issuer: str
    home: Path

    def certificate_key(self) -> ec.EllipticCurvePrivateKey:
        """Demo user 01's private key (its certificate is enrolled by the demo)."""
        key = serialization.load_pem_private_key((self.home / "demo-01.key").read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key


@contextlib.contextmanager
def reference_server(home: Path, port: int | None = None) -> Iterator[ReferenceServer]:
    """The demo's data in ``home`` (an empty directory), served by ``securebox serve`` on
    loopback (``port``, default a free one) until the block ends."""
    port = port or free_port()
    extra = {
        "SECUREBOX_DATABASE_URL": f"sqlite:///{home / 'demo.db'}",
        "SECUREBOX_MASTER_KEY_FILE": str(home / "master.key"),
        "SECUREBOX_PUBLIC_URL": f"http://localhost:{port}",
        "SECUREBOX_DEMO": "true",
        "SECUREBOX_DEMO_FAST": "1",
        "SECUREBOX_CAP_ISSUER_FILE": str(home / "cap-issuer-keys.json"),
        "SECUREBOX_DEMO_CARDS_DIR": str(home / "cards"),
    }
    extra.update(prepare(home))
    seed(extra, fast=True, folder=home)  # + the certificate's anchors and CRLs settings
    command = [sys.executable, "-m", "securebox_auth.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        command, env={**os.environ, **extra}, start_new_session=True, stdout=log, stderr=log
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", process)
        yield ReferenceServer(base, extra["SECUREBOX_PUBLIC_URL"], home)
    finally:
        stop_group(process)
        log.close()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class PortalClient:
    """The portal's front end, through the reference server's JSON API (``/api/v1``)."""

    def __init__(self, server: ReferenceServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base, timeout=30)

    def close(self) -> None:
        self.http.close()

    def _post(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = self.http.post(path, json=body, headers=headers)
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text}")
        return answer.json()

    def login(self, client_id: str = "123456789", user: str = "01", code: str = CODE) -> str:
        """A code login (demo user 01: no second factor due); the bearer session token."""
        flow = self._post("/api/v1/login/flows", {"client_id": client_id, "user_number": user})
        done = self._post(
            f"/api/v1/login/flows/{flow['id']}/answers",
            {"method": "confidential_code", "code": code},
        )
        if done["state"] != "done":
            raise RuntimeError(f"login: state {done['state']}")
        token: str = done["session"]["token"]
        return token

    def step_up_transfer(self, token: str, amount: str, currency: str, payee: str) -> str:
        """Open a step-up for this transfer, prove it with user 01's certificate (the
        signature over the server's challenge, which binds amount and payee); the new
        session token (the session rotates)."""
        details = {"amount": amount, "currency": currency, "payee": payee}
        flow = self._post(
            "/api/v1/step-ups", {"operation": "sepa_instant_transfer", "details": details}, token
        )
        return self.prove_with_certificate(token, flow["id"])

    def prove_with_certificate(self, token: str, flow_id: str) -> str:
        base = f"/api/v1/step-ups/{flow_id}"
        challenge = self._post(f"{base}/challenges", {"method": "certificate"}, token)
        payload = base64.urlsafe_b64decode(challenge["to_sign"] + "=" * 4)
        signature = self.server.certificate_key().sign(payload, ec.ECDSA(hashes.SHA256()))
        answer = {
            "method": "certificate",
            "challenge_id": challenge["challenge_id"],
            "signature": _b64url(signature),
        }
        ready = self._post(f"{base}/answers", answer, token)
        if ready["state"] != "ready":
            raise RuntimeError(f"step-up: state {ready['state']}")
        new_token: str = ready["session"]["token"]
        return new_token

    def assertion(self, token: str, audience: str = "payments") -> str:
        """A signed assertion of the session for ``audience`` (five minutes)."""
        issued = self._post("/api/v1/assertions", {"audience": audience}, token)
        assertion: str = issued["assertion"]
        return assertion
