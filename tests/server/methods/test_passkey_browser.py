"""``static/js/passkey.js`` in a real browser: Debian's headless Chromium, driven over the
DevTools protocol on a pipe (``--remote-debugging-pipe``), with a CDP virtual authenticator
(WebAuthn domain) holding the user's passkey, against the server in a real uvicorn on
``http://localhost`` (a secure context). The script decodes the page's options, calls
``navigator.credentials.get``, posts the assertion and lands on the home page; then, from
that strong session, "Add a passkey" runs ``navigator.credentials.create``.

Skips without chromium (fails in CI).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, NoReturn

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from securebox_auth.clock import SystemClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_server.app import create_app
from securebox_server.settings import Settings
from securebox_server.wiring import build_securebox
from tests.server.conftest import identify, open_user

pytestmark = pytest.mark.slow  # a browser and a uvicorn (~3 s)


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"chromium is required in CI: {reason}", pytrace=False)
    print(f"\nbrowser tests skipped: {reason}", file=sys.stderr)
    pytest.skip(f"chromium unavailable: {reason}")


class Browser:
    """Chromium with the DevTools protocol on fds 3 (commands) and 4 (events, answers)."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        # a Python trampoline moves the pipe ends to fds 3 and 4, then becomes chromium
        # (same process id)
        move = (
            "import os, sys; "
            f"os.dup2({to_browser}, 3, inheritable=True); "
            f"os.dup2({from_browser}, 4, inheritable=True); "
            "os.execv(sys.argv[1], sys.argv[1:])"
        )
        self.process = subprocess.Popen(  # noqa: S603 - the test's own command line
            [sys.executable, "-c", move, executable, "--headless", "--no-sandbox",
             "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "about:blank"],
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next = 0
        self.session = ""

    def call(self, method: str, params: dict[str, Any] | None = None, *, page: bool = True) -> Any:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if page and self.session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            while b"\0" not in self._buffer:
                chunk = os.read(self._read, 65536)
                if not chunk:
                    pytest.fail("chromium closed the DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._next:
                if "error" in answer:
                    pytest.fail(f"{method}: {answer['error']}")
                return answer.get("result", {})
        pytest.fail(f"{method}: no answer")

    def evaluate(self, expression: str) -> Any:
        found = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return found["result"].get("value")

    def open(self, url: str) -> None:
        """Load ``url`` and wait for the new document. The document being left is marked
        first: when it is at the same address, waiting for the address alone returned at
        once, and a click then reached the old page while the new one loaded, so the form
        was posted twice (the server rightly refused the second post of the ceremony)."""
        self.evaluate("window.__securebox_left = true")
        self.call("Page.navigate", {"url": url})
        self.wait(
            f"location.href === {json.dumps(url)} && document.readyState === 'complete'"
            " && !window.__securebox_left"
        )

    def wait(self, condition: str, seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.evaluate(f"(function () {{ try {{ return !!({condition}); }}"
                             " catch (e) { return false; } })()"):  # fmt: skip
                return
            time.sleep(0.05)
        body = self.evaluate("document.body ? document.body.innerText : ''")
        pytest.fail(f"timed out waiting for {condition}; page: {body!r}")

    def close(self) -> None:
        self.process.terminate()  # by its process id
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self._write)
        os.close(self._read)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, migrated_sqlite: Path) -> Iterator[tuple[str, Any]]:
    shutil.copyfile(migrated_sqlite, tmp_path / "server.db")
    port = _free_port()
    url = f"http://localhost:{port}"
    settings = Settings(database_url=f"sqlite:///{tmp_path}/server.db", public_url=url, demo=True)
    keys = DerivedKeys.generate()
    box = build_securebox(settings, clock=SystemClock(), argon2=PROFILE_TESTING, keys=keys)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, securebox=box, keys=keys), host="127.0.0.1",
                       port=port, log_level="warning", proxy_headers=False)
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield url, box
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("chromium is not installed (apt-get install chromium)")
    running = Browser(executable, tmp_path / "profile")
    try:
        target = running.call("Target.createTarget", {"url": "about:blank"}, page=False)
        attached = running.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, page=False
        )
        running.session = attached["sessionId"]
        running.call("Page.enable")
        running.call("Runtime.enable")
        yield running
    finally:
        running.close()


def _virtual_authenticator(browser: Browser) -> str:
    found = browser.call(
        "WebAuthn.addVirtualAuthenticator",
        {"options": {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                     "hasUserVerification": True, "isUserVerified": True,
                     "automaticPresenceSimulation": True}},
    )  # fmt: skip
    return str(found["authenticatorId"])


#: Counts the page's WebAuthn calls in the tab's sessionStorage (kept across its pages).
COUNT_CEREMONIES: Final = """(function () {
  var credentials = navigator.credentials;
  if (!credentials) { return; }
  function counted(name) {
    var call = credentials[name].bind(credentials);
    credentials[name] = function (options) {
      var calls = JSON.parse(sessionStorage.getItem("ceremonies") || "[]");
      calls.push(name + " " + location.pathname);
      sessionStorage.setItem("ceremonies", JSON.stringify(calls));
      return call(options);
    };
  }
  counted("get");
  counted("create");
})()"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_passkey_js_logs_in_and_adds_a_passkey(served: tuple[str, Any], browser: Browser) -> None:
    url, box = served
    principal, _ = open_user(box)
    device = SoftAuthenticator(origin=url, rp_id="localhost")
    options, ceremony = box.factors.passkeys.begin_registration(
        principal, user_name=principal.key, display_name="Demo"
    )
    assert box.factors.passkeys.finish_registration(
        principal, ceremony.id, device.create(options)
    ).ok
    browser.call("WebAuthn.enable", {"enableUI": False})
    browser.call("Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_CEREMONIES})
    authenticator = _virtual_authenticator(browser)
    key = device.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    browser.call(
        "WebAuthn.addCredential",
        {"authenticatorId": authenticator,
         "credential": {"credentialId": _b64(device.credential_id), "isResidentCredential": False,
                        "rpId": "localhost", "privateKey": _b64(key), "signCount": 0,
                        # as at its creation (SoftAuthenticator sets BE)
                        "backupEligibility": True}},
    )  # fmt: skip
    # the identifier steps over HTTP, their cookies handed to the browser
    with httpx.Client(base_url=url, timeout=10) as http:
        identify(http)  # type: ignore[arg-type]  # an httpx client, like TestClient
        for name, value in http.cookies.items():
            browser.call("Network.setCookie", {"name": name, "value": value, "url": url})
    browser.open(f"{url}/login/passkey")
    browser.evaluate("document.getElementById('passkey-submit').click()")
    browser.wait(f"location.href === {json.dumps(url + '/home')}")
    sessions = box.sessions_of(principal)
    assert len(sessions) == 1
    assert sessions[0][1].strong
    # the same authenticator may not register twice (excludeCredentials): the page says so
    browser.open(f"{url}/account/passkey")
    browser.evaluate("document.getElementById('passkey-submit').click()")
    browser.wait("!document.querySelector('[data-securebox-error]').hidden")
    # the strong session adds a passkey made by another authenticator
    browser.call("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator})
    other = _virtual_authenticator(browser)
    browser.open(f"{url}/account/passkey")
    browser.evaluate("document.getElementById('passkey-submit').click()")
    browser.wait(f"location.href === {json.dumps(url + '/home?passkey=added')}")
    made = browser.call("WebAuthn.getCredentials", {"authenticatorId": other})
    assert len(made["credentials"]) == 1
    # one ceremony per click: the pages once loaded passkey.js twice, so each click ran two
    # ceremonies and, when both answered, the form was posted twice (the second refused)
    assert json.loads(browser.evaluate("sessionStorage.getItem('ceremonies')")) == [
        "get /login/passkey",
        "create /account/passkey",
        "create /account/passkey",
    ]
