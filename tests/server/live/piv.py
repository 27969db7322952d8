"""The software PIV card for the live server: its PKI dated now (the server reads the system
clock), and a PC/SC stack of our own (``vpcd`` slots, then ``pcscd`` started and stopped by
its process id) under the machine lock of ``tests/cards/conftest.py``. Only one pcscd may
run on a machine: when the lock is held or a pcscd we did not start serves the socket, the
test is skipped with the reason."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, NoReturn

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from securebox_auth.cards.piv import PivCard
from securebox_auth.cards.vpcd import VpcdServer, pcscd_config
from securebox_auth.errors import ConfigurationError
from securebox_auth.testing.pki import Issued, TestPki
from tests.cards.capworld import make_world
from tests.cards.conftest import (
    BLANK_READER,
    LOCK_PATH,
    PIV_PIN,
    PIV_PUK,
    CardSlot,
    _missing,
    _pcscd_running,
    _stop,
    _wait_for_card,
)
from tests.cards.test_piv_pcsc import OPENSC_MODULE

__all__ = ["BLANK_READER", "OPENSC_MODULE", "PIV_PIN", "PivPki", "piv_pki", "piv_stack"]

LOCK_WAIT_S: Final = 10.0


def _unavailable(reason: str) -> NoReturn:
    """Skipped with the reason; a failure in CI, where the stack is installed."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"the PC/SC stack is required in CI: {reason}", pytrace=False)
    pytest.skip(f"PC/SC stack unavailable: {reason}")


@dataclass(frozen=True)
class PivPki:
    pki: TestPki
    user: Issued


def piv_pki() -> PivPki:
    pki = TestPki(datetime.now(UTC))
    return PivPki(pki, pki.issue("PIV card user"))


def _why_not() -> str | None:
    missing = _missing()
    if missing is not None:
        return missing
    if not OPENSC_MODULE.exists() or shutil.which("pkcs11-tool") is None:
        return "opensc is not installed (apt-get install opensc)"
    if importlib.util.find_spec("pkcs11") is None:
        return "python-pkcs11 is not installed"
    return None


@contextlib.contextmanager
def piv_stack(home: Path, material: PivPki) -> Iterator[PivCard]:
    """pcscd serving the PIV card in the second vpcd slot (OpenSC finds it there)."""
    reason = _why_not()
    if reason is not None:
        _unavailable(reason)
    with LOCK_PATH.open("a") as handle, contextlib.ExitStack() as cleanup:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    _unavailable(f"another run holds {LOCK_PATH}")
                time.sleep(0.1)
        cleanup.callback(fcntl.flock, handle, fcntl.LOCK_UN)
        if _pcscd_running():
            _unavailable("a pcscd not started by these tests serves the socket")
        key = material.user.key
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        piv = PivCard(key, material.user.cert, pin=PIV_PIN, puk=PIV_PUK)
        world = make_world(path=home / "cap-card.json")
        server = VpcdServer([CardSlot(world.card), piv])
        try:
            server.start()
        except ConfigurationError as exc:
            _unavailable(str(exc))
        cleanup.callback(server.stop)
        config = home / "reader.conf.d"
        config.mkdir()
        (config / "vpcd").write_text(pcscd_config(), encoding="utf-8")
        log = home / "pcscd.log"
        out = cleanup.enter_context(log.open("wb"))
        process = subprocess.Popen(  # noqa: S603 - a fixed command line
            ["pcscd", "--foreground", "--config", str(config)],  # noqa: S607
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        cleanup.callback(_stop, process)  # by its process id, before the card goes
        try:
            _wait_for_card(process, log)
        except pytest.fail.Exception as exc:  # pcscd did not start or saw no card
            _unavailable(str(exc))
        yield piv
