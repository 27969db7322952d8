"""The page side in a real browser: Debian's headless Chromium loads a login form that uses
``securebox_server/static/js/certificate.js``; the script calls ``securebox token agent``
(SoftHSM2 token) through CORS, fills the hidden fields and submits the form, and the
signature it posted opens a strong session through the library. With the agent not
running, the page shows the accessible message instead.

Skips without chromium (fails in CI); the SoftHSM2 fixture is ``test_pkcs11_softhsm.py``'s.
"""

from __future__ import annotations

import base64
import html
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar, Final, NoReturn
from urllib.parse import parse_qs

import pytest

from securebox_auth import CertificateAnswer, CertificateSettings
from tests.cards.agent_support import b64decode, portal, start_agent
from tests.cards.test_pkcs11_softhsm import LABEL, PIN, SOFTHSM_MODULE, Token, token
from tests.cards.test_vpcd import free_port_pair
from tests.shell.portal import CLIENT

__all__ = ["token"]

pytestmark = pytest.mark.slow  # a browser start each (about 2-6 s)

SCRIPTS: Final = Path(__file__).parents[2] / "src" / "securebox_server" / "static" / "js"
#: Test only: presses the form's button once the page is loaded (a person would).
PRESS: Final = (
    b"document.addEventListener('DOMContentLoaded', function () {"
    b" document.querySelector('form button').click(); });"
)
CHROMIUM_ARGS: Final = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=15000", "--dump-dom",
)  # fmt: skip


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"chromium is required in CI: {reason}", pytrace=False)
    print(f"\nbrowser tests skipped: {reason}", file=sys.stderr)
    pytest.skip(f"chromium unavailable: {reason}")


class _Page(BaseHTTPRequestHandler):
    challenge: ClassVar[str]
    agent: ClassVar[str]
    posted: ClassVar[list[dict[str, list[str]]]]

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", "default-src 'self'; connect-src *")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path in ("/form-status.js", "/certificate.js"):
            self._send((SCRIPTS / self.path[1:]).read_bytes(), "text/javascript")
        elif self.path == "/press.js":
            self._send(PRESS, "text/javascript")
        else:
            page = (
                '<!doctype html><html lang="en"><title>login</title><form method="post" '
                f'action="/done" data-securebox-certificate data-challenge="{self.challenge}" '
                f'data-agent="{html.escape(self.agent)}">'
                '<input type="hidden" name="signature"><input type="hidden" name="certificate">'
                '<p data-securebox-status role="status"></p>'
                '<p data-securebox-error role="alert" hidden></p>'
                "<button type=submit>Sign</button></form>"
                '<script src="/form-status.js"></script><script src="/certificate.js"></script>'
                '<script src="/press.js"></script>'
            )
            self._send(page.encode(), "text/html; charset=utf-8")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.posted.append(parse_qs(self.rfile.read(length).decode()))
        self._send(b"<!doctype html><p id=done>signed</p>", "text/html")


@pytest.fixture
def page_server() -> Iterator[tuple[ThreadingHTTPServer, type[_Page]]]:
    handler = type("Page", (_Page,), {"posted": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, handler
    server.shutdown()
    server.server_close()


def _browse(url: str, done: Callable[[], bool]) -> str:
    """Open ``url`` in headless Chromium until ``done()`` or Chromium exits (at most 30 s);
    the page's DOM when it exits by itself. Stopped by its process id."""
    chromium = shutil.which("chromium")
    if chromium is None:
        _unavailable("chromium is not installed (apt-get install chromium)")
    browser = subprocess.Popen(  # noqa: S603 - the test's own command line
        [chromium, *CHROMIUM_ARGS, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while browser.poll() is None and not done() and time.monotonic() < deadline:
        time.sleep(0.05)
    if browser.poll() is None:
        os.killpg(browser.pid, signal.SIGTERM)  # its own session: Chromium and its helpers
    out, _ = browser.communicate(timeout=10)
    return out


def test_the_page_signs_through_the_agent_and_posts_the_form(
    token: Token, page_server: tuple[ThreadingHTTPServer, type[_Page]]
) -> None:
    server, handler = page_server
    origin = f"http://localhost:{server.server_address[1]}"
    agent = start_agent(["--module", str(SOFTHSM_MODULE), "--token", LABEL], origins=(origin,))
    try:
        # the portal's issuer is the audience its challenges carry: here the page's origin
        settings = CertificateSettings(token.trust, token.revocation)
        box = portal(token.credential, settings, issuer=origin)
        flow = box.start_login(CLIENT, "01")
        challenge = box.login_certificate_challenge(flow.handle)
        handler.challenge = base64.urlsafe_b64encode(challenge.payload()).rstrip(b"=").decode()
        handler.agent = f"http://127.0.0.1:{agent.port}"
        agent.pin(PIN)
        dom = _browse(f"{origin}/login", lambda: bool(handler.posted))
    finally:
        console = agent.stop()
    assert handler.posted, (dom, console)
    assert f"The page {origin} asks to sign: login" in console
    fields = handler.posted[0]
    assert b64decode(fields["certificate"][0]) == token.credential.der
    answer = CertificateAnswer(challenge.challenge_id, b64decode(fields["signature"][0]))
    flow = box.answer_login(flow.handle, answer)
    assert flow.done, flow.explain()


def test_without_the_agent_the_page_says_so(
    page_server: tuple[ThreadingHTTPServer, type[_Page]],
) -> None:
    server, handler = page_server
    handler.challenge = "AAAA"
    handler.agent = f"http://127.0.0.1:{free_port_pair()}"  # nothing listens there
    dom = _browse(f"http://localhost:{server.server_address[1]}/login", lambda: False)
    assert "The signing agent does not answer." in dom
    assert 'role="alert"' in dom
    assert not handler.posted
