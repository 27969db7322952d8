"""The signing agent as a process for the tests: ``securebox token agent`` on a free
loopback port, with its PINs written by the test into a pipe (``--pin-from-fd``), and a
small HTTP client that can send any ``Host`` and ``Origin`` (as a browser or an attacker's
page would)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

import pytest

from securebox_auth import (
    PROFILE_TESTING,
    CertificateSettings,
    DerivedKeys,
    FixedClock,
    Operator,
    Securebox,
)
from securebox_auth.factors.certificate import CertCredential
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.memory import MemoryStore
from tests.shell.portal import CLIENT, CODE, MASTER, T0, Phone, portal_policy, user

ORIGIN: Final = "https://portal.example.test"
SRC: Final = str(Path(__file__).parents[2] / "src")


@dataclass
class Agent:
    process: subprocess.Popen[str]
    port: int
    pins: int  #: write end of the PIN pipe

    def pin(self, text: str) -> None:
        os.write(self.pins, text.encode() + b"\n")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        origin: str | None = ORIGIN,
        host: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], dict[str, object]]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            connection.putrequest(method, path, skip_host=True)
            connection.putheader("Host", host or f"127.0.0.1:{self.port}")
            if origin is not None:
                connection.putheader("Origin", origin)
            if body is not None:
                connection.putheader("Content-Type", "application/json")
                connection.putheader("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            connection.endheaders(body)
            answer = connection.getresponse()
            raw = answer.read()
            received = {k.lower(): v for k, v in answer.getheaders()}
            return answer.status, received, json.loads(raw) if raw else {}
        finally:
            connection.close()

    def sign(self, payload: bytes, *, origin: str = ORIGIN) -> tuple[int, dict[str, object]]:
        text = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
        body = json.dumps({"challenge": text}).encode()
        status, _, document = self.request("POST", "/sign", body, origin=origin)
        return status, document

    def sign_after_pin(self, pin: str, payload: bytes) -> tuple[int, dict[str, object]]:
        self.pin(pin)
        return self.sign(payload)

    def stop(self) -> str:
        """Stop it by its process id; its console output."""
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=20)
        os.close(self.pins)
        assert self.process.returncode == 0, err
        assert "Traceback" not in err
        return out + err


def start_agent(token_args: list[str], *, origins: tuple[str, ...] = (ORIGIN,)) -> Agent:
    read, write = os.pipe()
    argv = [
        sys.executable, "-m", "securebox_auth.cli", "token", "agent", *token_args,
        "--port", "0", "--pin-from-fd", str(read),
        *(item for origin in origins for item in ("--origin", origin)),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": SRC}
    process = subprocess.Popen(  # noqa: S603 - the test's own command line
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, pass_fds=(read,)
    )
    os.close(read)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while not (found := re.search(r"http://127\.0\.0\.1:(\d+)", process.stdout.readline())):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            pytest.fail(f"the agent did not start: {err}")
    return Agent(process, int(found.group(1)), write)


def b64decode(text: object) -> bytes:
    assert isinstance(text, str)
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def portal(
    credential: CertCredential, settings: CertificateSettings, *, issuer: str = ORIGIN
) -> Securebox:
    """A portal (memory store, its issuer the origin of its pages) whose user 01 has
    ``credential``."""
    box = Securebox.from_policy(
        portal_policy(),
        store=MemoryStore(audit_key=b"\x42" * 32),
        keys=DerivedKeys.from_hex(MASTER),
        clock=FixedClock(T0 + timedelta(seconds=1)),
        gateways={"sms": Phone()},
        argon2=PROFILE_TESTING,
        certificates=settings,
        issuer=issuer,
    )
    who = user(1)
    assert credential.subject == who.key
    first = box.codes.create_subscription(Operator("back-office"), who)
    assert box.codes.change_code(CLIENT, "01", first.reveal(), CODE).changed
    box.factors.put_state(who, fc.CERTIFICATE, "default", fc.cert_credential_to_dict(credential))
    return box
