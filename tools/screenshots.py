"""Screenshots of the reference server's pages, for docs/server.md (issue 14).

Starts ``securebox demo`` on a free loopback port (its own fresh directory), reads the
demo users it prints, drives Debian's headless Chromium (``/usr/bin/chromium``, over the
DevTools protocol on a pipe, as tests/server/methods/test_passkey_browser.py does) through
every login page, and writes PNGs into docs/images/server/ (1000 px wide, recompressed at
zlib level 9). Stops the demo and the browser by their process ids at the end.

    PYTHONPATH=src python3 tools/screenshots.py [--out docs/images/server]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import httpx

from securebox_auth.clock import SystemClock
from securebox_auth.factors.totp import code_at
from securebox_auth.factors.totp_credential import TotpCredential

WIDTH = 1000
ACTIONS = "[...document.forms].map(f => f.getAttribute('action'))"
READY = [0]  # when the demo answered, in seconds since the epoch
CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class Failed(Exception):
    """A step of the walk did not reach the expected page."""


class Browser:
    """Chromium with the DevTools protocol on fds 3 (commands) and 4 (answers, events)."""

    def __init__(self, profile: Path) -> None:
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()
        move = (
            "import os, sys; "
            f"os.dup2({to_browser}, 3, inheritable=True); "
            f"os.dup2({from_browser}, 4, inheritable=True); "
            "os.execv(sys.argv[1], sys.argv[1:])"
        )
        command = [sys.executable, "-c", move, CHROMIUM, *FLAGS]
        command += [f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"]
        self.process = subprocess.Popen(  # noqa: S603 - our own command line
            command,
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
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
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            while b"\0" not in self._buffer:
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise Failed("chromium closed the DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise Failed(f"{method}: {answer['error']}")
                return answer.get("result", {})
        raise Failed(f"{method}: no answer")

    def attach(self) -> None:
        targets = self.call("Target.getTargets", page=False)["targetInfos"]
        target = next(t["targetId"] for t in targets if t["type"] == "page")
        attached = self.call(
            "Target.attachToTarget", {"targetId": target, "flatten": True}, page=False
        )
        self.session = attached["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Network.enable")
        agent = self.call("Browser.getVersion", page=False)["userAgent"]
        # French is the server's default: ask for it as a French browser would
        self.call(
            "Network.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": "fr-FR,fr"}
        )
        self.viewport(800)

    def viewport(self, height: int) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def evaluate(self, expression: str) -> Any:
        found = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in found:
            raise Failed(f"{expression[:80]}: {found['exceptionDetails'].get('text')}")
        return found["result"].get("value")

    def wait(self, condition: str, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            probe = (
                f"(function () {{ try {{ return !!({condition}); }}"
                " catch (e) { return false; } })()"
            )
            if self.evaluate(probe):
                return
            time.sleep(0.05)
        body = self.evaluate("document.body ? document.body.innerText : ''")
        raise Failed(f"timed out waiting for {condition}; page: {body!r}")

    def _mark(self) -> None:
        self.evaluate("window.__walk = 1")

    def _landed(self) -> None:
        self.wait("window.__walk === undefined && document.readyState === 'complete'")

    def open(self, url: str) -> None:
        self._mark()
        self.call("Page.navigate", {"url": url})
        self._landed()

    def submit(self, action: str, values: dict[str, str], button: str = "") -> None:
        """Fill the form posting to ``action`` and submit it (with ``button``, a CSS
        selector of its submitter, when given)."""
        self._mark()
        script = (
            "(function (action, values, button) {"
            " const form = [...document.forms].find(f => f.getAttribute('action') === action);"
            " if (!form) { throw new Error('no form ' + action); }"
            " for (const [name, value] of Object.entries(values)) {"
            "   const input = form.querySelector('[name=\"' + name + '\"]:not([type=hidden])')"
            "     || form.elements[name];"
            "   if (input.type === 'radio') {"
            "     const radio = '[name=\"' + name + '\"][value=\"' + value + '\"]';"
            "     form.querySelector(radio).checked = true;"
            "   } else { input.value = value; }"
            " }"
            " form.requestSubmit(button ? form.querySelector(button) : undefined);"
            " return true; })"
            f"({json.dumps(action)}, {json.dumps(values)}, {json.dumps(button)})"
        )
        self.evaluate(script)
        self._landed()

    def click(self, selector: str) -> None:
        self._mark()
        self.evaluate(
            f"setTimeout(() => document.querySelector({json.dumps(selector)}).click(), 0)"
        )
        time.sleep(1.0)
        self.wait("document.readyState === 'complete'")

    def path(self) -> str:
        return str(self.evaluate("location.pathname"))

    def text(self) -> str:
        return str(self.evaluate("document.body.innerText"))

    def shot(self, folder: Path, name: str) -> Path:
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        self.viewport(max(600, min(height, 2400)))
        time.sleep(0.1)
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        self.viewport(800)
        target = folder / f"{name}.png"
        target.write_bytes(recompress(base64.b64decode(data)))
        print(f"  {target} ({target.stat().st_size // 1024} KiB)")
        return target

    def close(self) -> None:
        self.process.terminate()  # by its process id
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self._write)
        os.close(self._read)


def recompress(png: bytes) -> bytes:
    """The same image with its pixel data in one IDAT deflated at level 9 (lossless)."""
    signature, rest = png[:8], png[8:]
    chunks: list[tuple[bytes, bytes]] = []
    while rest:
        (length,) = struct.unpack(">I", rest[:4])
        kind, body = rest[4:8], rest[8 : 8 + length]
        chunks.append((kind, body))
        rest = rest[12 + length :]
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    out = [signature]
    placed = False
    for kind, body in chunks:
        data = body
        if kind == b"IDAT":
            if placed:
                continue
            data, placed = zlib.compress(pixels, 9), True
        elif kind not in (b"IHDR", b"PLTE", b"IEND", b"tRNS"):
            continue
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        out.append(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc))
    return b"".join(out)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_demo(home: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    """``securebox demo`` in its own process group; the lines it printed."""
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [
            sys.executable,
            "-m",
            "securebox_auth.cli",
            "demo",
            "--port",
            str(port),
            "--dir",
            str(home),
        ],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise Failed("securebox demo stopped")
        lines.append(line.rstrip())
        if line.lstrip().startswith("Sensitive operations"):
            break

    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                READY[0] = int(time.time())
                return process, lines
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise Failed("the demo server did not become ready")


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the group we started (demo and its uvicorn)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def found(pattern: str, lines: list[str]) -> str:
    for line in lines:
        match = re.search(pattern, line)
        if match:
            return match.group(1)
    raise Failed(f"the demo did not print {pattern!r}")


def totp(secret: str) -> str:
    """The current code, in a later time step than the demo's enrolment (a code is
    accepted once per step)."""
    while int(time.time()) // 30 <= READY[0] // 30:
        time.sleep(1)
    now = SystemClock().now()
    return code_at(TotpCredential(secret=secret, created_at=now), now)


def walk(b: Browser, base: str, lines: list[str], out: Path) -> None:  # noqa: PLR0915
    client = "123456789"
    one_time = found(r"/ 02: one-time code (\d+)", lines)
    secret02 = found(r"/ 02: one-time code \d+, then TOTP (\w+)", lines)
    secret03 = found(r"/ 03: code \d+, then TOTP (\w+)", lines)
    pin = found(r"/ 04: CAP card, PIN (\d+)", lines)

    def fresh() -> None:
        b.call("Network.clearBrowserCookies")

    def identify(user: str, shots: bool = False) -> None:
        fresh()
        b.open(f"{base}/login")
        if shots:
            b.shot(out, "login-identifier")
        b.submit("/login", {"client_id": client})
        if shots:
            b.shot(out, "login-user")
        b.submit("/login/user", {"user_number": user})

    def method(path: str) -> None:
        if b.path() == "/login/method":
            b.open(f"{base}{path}")

    print("user 01: identifier, user number, method choice, code, home")
    identify("01", shots=True)
    if b.path() == "/login/method":
        b.shot(out, "login-method")
    method("/login/code")
    b.submit("/login/code", {"code": "00000000"})
    b.shot(out, "login-code-rejected")
    b.submit("/login/code", {"code": "47120938"})
    b.shot(out, "home")

    print("certificate and passkey pages (user 01)")
    identify("01")
    b.open(f"{base}/login/certificate")
    b.shot(out, "login-certificate")
    b.open(f"{base}/login/passkey")
    b.shot(out, "login-passkey")

    print("user 02: one-time code, forced change, TOTP")
    identify("02")
    method("/login/code")
    b.submit("/login/code", {"code": one_time})
    b.shot(out, "login-change-code")
    b.submit("/login/change-code", {"current": one_time, "new": "39517284", "confirm": "39517284"})
    b.shot(out, "login-after-change")
    if b.path() == "/login/totp":
        b.submit("/login/totp", {"code": totp(secret02)})

    print("user 03: code, 90-day prompt, TOTP, step-up")
    identify("03")
    method("/login/code")
    b.submit("/login/code", {"code": "58203716"})
    b.shot(out, "login-strong")
    b.open(f"{base}/login/totp")
    b.shot(out, "login-totp")
    b.submit("/login/totp", {"code": totp(secret03)})
    b.shot(out, "home-strong")
    b.open(f"{base}/account/passkey")
    b.shot(out, "account-passkey")
    b.open(f"{base}/cheque-books/new")
    b.shot(out, "stepup-cheque-form")
    b.submit("/cheque-books/new", {"account": "12345678901"})
    b.shot(out, "stepup-cheque-confirm")
    execute = b.evaluate(ACTIONS + ".find(a => a && a.endsWith('/execute')) || ''")
    if execute:
        b.submit(execute, {})
        b.shot(out, "stepup-cheque-done")
    b.open(f"{base}/payees")
    b.shot(out, "stepup-payees")
    for link in ("/payees/new",):
        b.open(f"{base}{link}")
    b.shot(out, "stepup-payee-form")
    form = b.evaluate(ACTIONS + ".find(a => a.startsWith('/payees'))")
    names = b.evaluate(
        "[...document.querySelectorAll('main form input:not([type=hidden])')].map(i => i.name)"
    )
    values = {
        n: v
        for n, v in (
            ("name", "Dupont SARL"),
            ("iban", "FR7630006000011234567890189"),
            ("label", "Dupont SARL"),
        )
        if n in names
    }
    if form:
        b.submit(form, values)
        b.shot(out, "stepup-approve")
        proof = b.evaluate("(document.querySelector('main a[href*=\"/proof\"]') || {}).href || ''")
        if proof:
            b.open(proof)
            b.shot(out, "stepup-proof")

    print("user 04: CAP Identify and Respond, virtual reader")
    identify("04")
    b.open(f"{base}/login/cap")
    b.shot(out, "login-cap-identify")
    b.open(f"{base}/demo/cap-reader")
    b.submit("/demo/cap-reader", {"mode": "identify", "pin": pin})
    b.shot(out, "demo-cap-reader")
    display = str(b.evaluate("document.getElementById('reader-code').textContent")).strip()
    b.open(f"{base}/login/cap")
    b.submit("/login/cap", {"code": display})
    identify("04")
    b.open(f"{base}/login/cap/respond")
    b.shot(out, "login-cap-respond")
    challenge = str(b.evaluate("document.querySelector('.challenge').textContent")).strip()
    b.open(f"{base}/demo/cap-reader")
    b.submit("/demo/cap-reader", {"mode": "respond", "challenge": challenge, "pin": pin})
    display = str(b.evaluate("document.getElementById('reader-code').textContent")).strip()
    b.open(f"{base}/login/cap/respond")

    print("user 05: code, then a code by SMS or e-mail")
    identify("05")
    method("/login/code")
    b.submit("/login/code", {"code": "73950264"})
    b.shot(out, "login-after-code-05")
    oob = b.evaluate(
        '(document.querySelector(\'main a[href^="/login/sms"],'
        " main a[href^=\"/login/email\"]') || {}).href || ''"
    )
    if oob:
        b.open(oob)
    b.shot(out, "login-oob")
    send = b.evaluate(ACTIONS + ".find(a => a && a.endsWith('/send')) || ''")
    if send:
        b.submit(send, {})
        b.shot(out, "login-oob-sent")
        b.open(f"{base}/demo/outbox")
        b.shot(out, "demo-outbox")

    print("English pages")
    fresh()
    b.open(f"{base}/login")
    b.click('button[name="lang"][value="en"]')
    b.shot(out, "en-login-identifier")
    b.submit("/login", {"client_id": client})
    b.shot(out, "en-login-user")
    b.submit("/login/user", {"user_number": "05"})
    b.shot(out, "en-login-method")
    method("/login/code")
    b.submit("/login/code", {"code": "73950264"})
    b.shot(out, "en-login-after-code")
    b.click('button[name="lang"][value="fr"]')

    print("too many attempts: wrong codes for user 01")
    for _ in range(8):
        identify("01")
        method("/login/code")
        if b.path() != "/login/code":
            break
        b.submit("/login/code", {"code": "11111111"})
        if b.path() != "/login/code":
            break
    b.shot(out, "login-limited")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images/server", type=Path)
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="securebox-shots-") as scratch:
        home = Path(scratch) / "demo"
        home.mkdir()
        port = free_port()
        process, lines = start_demo(home, port)
        print("\n".join(lines))
        browser = Browser(Path(scratch) / "profile")
        try:
            browser.attach()
            walk(browser, f"http://localhost:{port}", lines, out)
        finally:
            browser.close()
            stop(process)
    total = sum(p.stat().st_size for p in out.glob("*.png"))
    print(f"{len(list(out.glob('*.png')))} images, {total // 1024} KiB in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
