"""Certificate login in the browser: the demo's certificate for user 01 (``demo-01.key`` and
``demo-01.der`` in the demo's folder) loaded into a fresh SoftHSM2 token, as
docs/certificates-login.md tells ("Trying it in the demo"), and ``securebox token agent`` in
front of it, for the demo server's origin, its PINs written by the test into a pipe
(``--pin-from-fd``, as the person would type them in the agent's window).

Without softhsm2, opensc's pkcs11-tool or python-pkcs11 the tests skip with the reason,
except in CI (``CI=true``), where they fail."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final, NoReturn

import pytest

from securebox_auth.factors.cert_enrol import CertCredential
from securebox_auth.identity import Principal
from securebox_auth.stores import factor_codecs as fc
from tests.browser.driver import Tab
from tests.browser.server import DemoServer
from tests.cards.agent_support import Agent

__all__ = [
    "PIN",
    "SOFTHSM_MODULE",
    "demo_fingerprint",
    "demo_token",
    "give_demo_certificate",
    "sign_in_page",
    "signing_agent",
]

SOFTHSM_MODULE: Final = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN: Final = "135790"
SO_PIN: Final = "24681357"
LABEL: Final = "securebox-browser"
SOURCE: Final = str(Path(__file__).resolve().parents[2] / "src")
DEMO_USER: Final = Principal.parse("123456789", "01")


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"SoftHSM2 is required in CI: {reason}", pytrace=False)
    pytest.skip(f"SoftHSM2 unavailable: {reason}")


def demo_token(home: Path, folder: Path) -> Path:
    """A SoftHSM2 token in ``folder`` holding the demo's key and certificate for user 01
    (``home``: the demo's folder); its configuration file (``SOFTHSM2_CONF``)."""
    util, tool = shutil.which("softhsm2-util"), shutil.which("pkcs11-tool")
    if util is None or not SOFTHSM_MODULE.exists():
        _unavailable("softhsm2 is not installed (apt-get install softhsm2)")
    if tool is None:
        _unavailable("pkcs11-tool is not installed (apt-get install opensc)")
    if importlib.util.find_spec("pkcs11") is None:
        _unavailable("python-pkcs11 is not installed (pip install python-pkcs11)")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {folder / 'tokens'}\n"
        "objectstore.backend = file\nlog.level = ERROR\n"
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    commands = (
        [util, "--init-token", "--free", "--label", LABEL, "--pin", PIN, "--so-pin", SO_PIN],
        [util, "--import", str(home / "demo-01.key"), "--token", LABEL, "--label", "demo-01",
         "--id", "01", "--pin", PIN],
        [tool, "--module", str(SOFTHSM_MODULE), "--token-label", LABEL, "--login", "--pin", PIN,
         "--write-object", str(home / "demo-01.der"), "--type", "cert", "--id", "01",
         "--label", "demo-01"],
    )  # fmt: skip
    for command in commands:
        subprocess.run(command, check=True, capture_output=True, timeout=30, env=env)  # noqa: S603
    return conf


@contextlib.contextmanager
def signing_agent(conf: Path, port: int, origin: str) -> Iterator[Agent]:
    """``securebox token agent`` on ``port`` for the token of ``conf``, allowing ``origin``
    (the demo server's base); stopped by its process id, its console never showing the
    PIN."""
    read, write = os.pipe()
    argv = [
        sys.executable, "-m", "securebox_auth.cli", "token", "agent",
        "--module", str(SOFTHSM_MODULE), "--token", LABEL,
        "--port", str(port), "--pin-from-fd", str(read), "--origin", origin,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": SOURCE, "SOFTHSM2_CONF": str(conf)}
    process = subprocess.Popen(  # noqa: S603 - the test's own command line
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, pass_fds=(read,)
    )
    os.close(read)
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while not re.search(rf"http://127\.0\.0\.1:{port}\b", process.stdout.readline()):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            pytest.fail(f"the agent did not start: {err}")
    agent = Agent(process, port, write)
    try:
        yield agent
    finally:
        assert PIN not in agent.stop()


def _demo_credential(server: DemoServer) -> CertCredential:
    found = server.box.store.get_factor_state(DEMO_USER, fc.CERTIFICATE, "default")
    assert found is not None
    return fc.cert_credential_from_dict(found.value)


def demo_fingerprint(server: DemoServer) -> str:
    """The fingerprint of the demo's certificate (as the profile shows it)."""
    return _demo_credential(server).fingerprint


def give_demo_certificate(server: DemoServer, principal: Principal) -> None:
    """Prepare ``principal`` with the demo certificate enrolled (as the demo's seed does for
    user 01): the bank handed them that token."""
    credential = _demo_credential(server)
    moved = {**fc.cert_credential_to_dict(credential), "subject": principal.key}
    server.box.factors.put_state(principal, fc.CERTIFICATE, "default", moved)


def sign_in_page(tab: Tab, agent: Agent, action: str, pin: str = PIN) -> None:
    """Press "Sign with my certificate" on the page's form and type ``pin`` in the agent's
    window: the page's script gets the signature from the agent and posts the form."""
    agent.pin(pin)
    tab.submit(action)
