"""``securebox token agent``: the local signing agent a portal page calls from the browser.

A browser cannot reach a PKCS#11 token, so, as banks' own signing helpers do, a small
program on the user's machine does it: it listens on ``127.0.0.1`` only and answers

* ``POST /sign`` with ``{"challenge": BASE64URL}`` (the base64url of
  :meth:`~securebox_auth.factors.certificate.CertChallenge.payload`): it shows the user the
  page's origin and what the challenge is for, asks the token PIN (on its terminal, without
  echo), signs with the token, and answers ``{"signature", "certificate"}`` as
  ``securebox token sign-challenge`` prints them;
* ``GET /certificate``: ``{"certificate"}`` (DER, base64url), to enrol it.

The rules (:mod:`securebox_auth.cards.agent_rules`): ``Host`` must be the agent's loopback
address (DNS rebinding), ``Origin`` one of the configured portals (exact match; CORS and the
Private Network Access preflight answered for those only), the challenge's audience that
portal's, the body at most :data:`MAX_BODY` bytes of JSON. One request signs at a time and
each signature takes a PIN typed for it: the PIN is never kept. Failures are RFC 9457
problem documents with a stable ``code``; the log names a challenge by a digest only and
never holds a PIN. See ``docs/adr/0025-local-signing-agent-and-mtls-proxy.md``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, ClassVar, Final, Protocol, TextIO

from securebox_auth.cards import agent_rules as rules
from securebox_auth.cards.prompt import ask_secret
from securebox_auth.cards.token_cli import b64url, challenge_payload, signed_answer
from securebox_auth.errors import (
    ConfigurationError,
    EnvironmentUnavailable,
    MalformedInput,
    SecureboxError,
)

if TYPE_CHECKING:
    from securebox_auth.cards.pkcs11_client import TokenSelector

__all__ = [
    "MAX_BODY",
    "AgentBusy",
    "FdPin",
    "PinSource",
    "TerminalPin",
    "TokenAgent",
    "UserDeclined",
    "make_server",
]

#: The largest request body the agent reads (a challenge is at most 4096 bytes, base64url).
MAX_BODY: Final = 8192
_STATUS: Final = {
    "token_wrong_pin": 403,
    "token_pin_locked": 423,
    "token_missing": 503,
    "token_error": 503,
    "token_key_missing": 409,
    "configuration": 503,
    "environment_unavailable": 503,
    "malformed_input": 400,
}
_TRIES: Final = {"final_try": 1, "locked": 0}


class AgentBusy(rules.AgentRefusal):
    """Another signature is waiting for its PIN: one at a time."""

    code: ClassVar[str] = "agent_busy"
    status_hint: ClassVar[int] = 409


class UserDeclined(rules.AgentRefusal):
    """The user refused to sign (an empty PIN)."""

    code: ClassVar[str] = "agent_user_declined"


class PinSource(Protocol):
    """Where the PIN of one signature comes from."""

    def ask(self, prompt: str) -> str: ...


class TerminalPin:
    """The agent's terminal, without echo (the default)."""

    def ask(self, prompt: str) -> str:
        return ask_secret(prompt)


class FdPin:
    """One line per signature from an inherited file descriptor: **for tests only** (the
    PIN then does not come from the person in front of the screen)."""

    def __init__(self, fd: int) -> None:
        try:
            self._lines = os.fdopen(fd, "r", encoding="utf-8", closefd=True)
        except (OSError, ValueError):
            raise ConfigurationError("--pin-from-fd names no open descriptor") from None

    def ask(self, prompt: str) -> str:
        line = self._lines.readline()
        if not line:
            raise EnvironmentUnavailable("the PIN descriptor is closed")
        return line.rstrip("\r\n")


Answer = tuple[int, dict[str, object]]


@dataclass(slots=True)
class TokenAgent:
    """The agent's behaviour, apart from HTTP: what to answer to a request."""

    selector: TokenSelector
    portals: rules.Portals
    port: int
    pins: PinSource
    console: TextIO = field(default_factory=lambda: sys.stderr)
    _signing: threading.Lock = field(default_factory=threading.Lock)

    def say(self, text: str) -> None:
        self.console.write(text + "\n")
        self.console.flush()

    def certificate(self) -> Answer:
        from cryptography.hazmat.primitives.serialization import Encoding  # noqa: PLC0415

        from securebox_auth.cards.pkcs11_client import read_certificate  # noqa: PLC0415

        cert = read_certificate(self.selector)
        return 200, {"certificate": b64url(cert.public_bytes(Encoding.DER))}

    def sign(self, origin: str, body: bytes) -> Answer:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise rules.BodyRefused("the body is not JSON") from None
        if not isinstance(document, dict) or not isinstance(document.get("challenge"), str):
            raise rules.BodyRefused('the body is {"challenge": BASE64URL}')
        payload = challenge_payload(document["challenge"])
        view = rules.read_payload(payload)
        rules.check_audience(view, origin, self.portals)
        if not self._signing.acquire(blocking=False):
            raise AgentBusy("another signature is waiting for its PIN")
        try:
            return self._sign_locked(origin, payload, view)
        finally:
            self._signing.release()

    def _sign_locked(self, origin: str, payload: bytes, view: rules.ChallengeView) -> Answer:
        from pkcs11 import exceptions as pkcs11_errors  # noqa: PLC0415 - optional

        from securebox_auth.cards import pkcs11_client as p11  # noqa: PLC0415 - optional

        tag = rules.digest_of(payload)
        self.say(view.describe(origin))
        self.say("Type the token PIN to sign, or an empty line to refuse.")
        pin = self.pins.ask("Token PIN: ")
        if not pin:
            self.say(f"refused by the user: challenge {tag}")
            raise UserDeclined("the user refused to sign")
        try:
            signed = p11.sign_challenge(payload, pin, self.selector)
        except pkcs11_errors.PKCS11Error as exc:  # what pkcs11_client does not name
            self.say(f"the token failed for challenge {tag}: {type(exc).__name__}")
            raise p11.TokenError(f"the token failed ({type(exc).__name__})") from None
        except p11.WrongPin as exc:
            status = p11.pin_status(self.selector)
            self.say(f"wrong PIN for challenge {tag}; token PIN status: {status or 'unknown'}")
            return 403, rules.problem(
                exc, status=403, pin_status=status, tries_left=_TRIES.get(status or "")
            )
        finally:
            del pin
        self.say(f"signed challenge {tag} for {origin}")
        return 200, dict(signed_answer(signed))


def _answer_error(error: SecureboxError) -> Answer:
    status = _STATUS.get(error.code, error.status_hint)
    if isinstance(error, ConfigurationError | EnvironmentUnavailable):
        status = 503
    if isinstance(error, MalformedInput) and not isinstance(error, rules.AgentRefusal):
        status = 400
    return status, rules.problem(error, status=status)


class _Handler(BaseHTTPRequestHandler):
    server_version = "securebox-token-agent"
    sys_version = ""
    timeout = 30
    agent: ClassVar[TokenAgent]

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the agent says what it does itself (without URLs or bodies)."""

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _send(self, status: int, document: dict[str, object] | None, extra: dict[str, str]) -> None:
        body = b"" if document is None else json.dumps(document).encode()
        self.send_response(status)
        kind = "application/problem+json" if status >= 400 else "application/json"
        headers = {
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Length": str(len(body)),
            **({"Content-Type": kind} if body else {}),
            **extra,
        }
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _run(self, route: Callable[[str], Answer]) -> None:
        cors: dict[str, str] = {}
        try:
            origin = rules.check_request(
                self._headers(), port=self.agent.port, portals=self.agent.portals
            )
            cors = rules.cors_headers(origin)
            status, document = route(origin)
        except SecureboxError as exc:
            status, document = _answer_error(exc)
        self._send(status, document, cors)

    def do_OPTIONS(self) -> None:
        headers = self._headers()
        try:
            origin = rules.check_request(headers, port=self.agent.port, portals=self.agent.portals)
            self._send(204, None, rules.preflight_headers(origin, headers))
        except SecureboxError as exc:
            self._send(*_answer_error(exc), {})

    def do_GET(self) -> None:
        if self.path != "/certificate":
            self._run(lambda _origin: _not_found())
        else:
            self._run(lambda _origin: self.agent.certificate())

    def do_POST(self) -> None:
        if self.path != "/sign":
            self._run(lambda _origin: _not_found())
            return
        self._run(lambda origin: self.agent.sign(origin, self._body()))

    def _body(self) -> bytes:
        headers = self._headers()
        if "transfer-encoding" in headers:
            raise rules.BodyRefused("send the body with a Content-Length")
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise rules.BodyRefused("the body is application/json")
        try:
            length = int(headers.get("content-length", ""))
        except ValueError:
            raise rules.BodyRefused("send the body with a Content-Length") from None
        if length > MAX_BODY:
            raise rules.BodyTooLarge(f"the body is at most {MAX_BODY} bytes")
        if length <= 0:
            raise rules.BodyRefused("the body is empty")
        body = self.rfile.read(length)
        if len(body) != length:
            raise rules.BodyRefused("the body ended early")
        return body


def _not_found() -> Answer:
    return 404, rules.problem(rules.AgentRefusal("no such resource"), status=404)


def make_server(agent: TokenAgent) -> ThreadingHTTPServer:
    """The agent's HTTP server on 127.0.0.1 (``agent.port``, 0 for a free port); its real
    port is ``server.server_address[1]``. ConfigurationError when the port is taken."""
    handler = type("AgentHandler", (_Handler,), {"agent": agent})
    try:
        server = ThreadingHTTPServer(("127.0.0.1", agent.port), handler)
    except OSError as exc:
        where = f"127.0.0.1:{agent.port}"
        raise ConfigurationError(f"cannot listen on {where}: {exc.strerror}") from None
    server.daemon_threads = True
    agent.port = int(server.server_address[1])
    return server
