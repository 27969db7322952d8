"""The real PC/SC stack for the end-to-end tests: the software card behind ``vpcd`` in
``pcscd``, started once for the whole run.

Order (``shared/design/test-infrastructure.md``): under a machine-wide ``fcntl`` lock (one
``pcscd`` per machine: its socket is fixed), the software card listens on 127.0.0.1:35963 and
:35964 first (slot 1 holds the software PIV card, which answers the EMV probes as a blank
card does), then ``pcscd --foreground --config DIR`` starts with a reversed-mode ``vpcd``
configuration of its own (never Debian's ``/etc/reader.conf.d/vpcd``, and never ``--apdu``:
it would log PINs); the fixture waits for the card to be present. At the end ``pcscd`` is
stopped first, by its process id, then the card.

Without pcscd, vpcd or pyscard the tests skip with the reason, except in CI
(``CI=true``), where they fail.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NoReturn

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from securebox_auth.cards.piv import PivCard
from securebox_auth.cards.softcard import SoftEmvCard
from securebox_auth.cards.vpcd import VpcdServer, pcscd_config
from securebox_auth.errors import ConfigurationError
from securebox_auth.testing.pki import TestPki
from tests.cards.capworld import NOW, CapWorld, make_world

LOCK_PATH: Final = Path(tempfile.gettempdir()) / "securebox-pcscd.lock"
PCSCD_SOCKET: Final = Path("/run/pcscd/pcscd.comm")
VPCD_DRIVER: Final = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
CARD_READER: Final = "Virtual PCD 00 00"
BLANK_READER: Final = "Virtual PCD 00 01"
LOCK_WAIT_S: Final = 120.0
START_WAIT_S: Final = 10.0
PIV_PIN: Final = "246810"
PIV_PUK: Final = "13572468"


class CardSlot:
    """Slot 0 of the stack: the world's card, or another card a test inserts for a while
    (as a user swaps cards in a reader). pcscd sees one card throughout (same ATR)."""

    def __init__(self, card: SoftEmvCard) -> None:
        self.default = card
        self.card: SoftEmvCard = card

    @contextlib.contextmanager
    def inserted(self, card: SoftEmvCard) -> Iterator[SoftEmvCard]:
        card.reset()
        self.card = card
        try:
            yield card
        finally:
            self.default.reset()
            self.card = self.default

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def power_on(self) -> None:
        self.card.power_on()

    def power_off(self) -> None:
        self.card.power_off()

    def reset(self) -> None:
        self.card.reset()

    def process(self, apdu: bytes) -> bytes:
        return self.card.process(apdu)


@dataclass
class PcscStack:
    world: CapWorld
    reader: str
    blank_reader: str
    log: Path
    #: The software PIV card in the second slot (``blank_reader``): it answers the EMV
    #: probes as a blank card does, and OpenSC's PIV driver finds it there.
    piv: PivCard
    piv_pki: TestPki
    #: Slot 0, where a test may insert another CAP card (:meth:`CardSlot.inserted`).
    slot: CardSlot


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the PC/SC stack is required in CI: {reason}", pytrace=False)
    print(f"\nPC/SC end-to-end tests skipped: {reason}", file=sys.stderr)
    pytest.skip(f"PC/SC stack unavailable: {reason}")


def _missing() -> str | None:
    if shutil.which("pcscd") is None:
        return "pcscd is not installed (apt-get install pcscd)"
    if not VPCD_DRIVER.exists():
        return "the vpcd driver is not installed (apt-get install vsmartcard-vpcd)"
    if importlib.util.find_spec("smartcard") is None:
        return "pyscard is not installed (pip install pyscard; needs libpcsclite-dev)"
    return None


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    with LOCK_PATH.open("a") as handle:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    _unavailable(f"another test run held {LOCK_PATH} for {LOCK_WAIT_S:.0f} s")
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pcscd_running() -> bool:
    if not PCSCD_SOCKET.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(PCSCD_SOCKET))
        except OSError:
            return False
    return True


def _wait_for_card(process: subprocess.Popen[bytes], log: Path) -> None:
    from smartcard import scard  # noqa: PLC0415 - pyscard is optional

    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"pcscd exited ({process.returncode}): {log.read_text()[-2000:]}")
        result, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if result == scard.SCARD_S_SUCCESS:
            try:
                result, readers = scard.SCardListReaders(context, [])
                if result == scard.SCARD_S_SUCCESS and CARD_READER in readers:
                    result, states = scard.SCardGetStatusChange(
                        context, 100, [(CARD_READER, scard.SCARD_STATE_UNAWARE)]
                    )
                    if result == scard.SCARD_S_SUCCESS and states[0][1] & scard.SCARD_STATE_PRESENT:
                        return
            finally:
                scard.SCardReleaseContext(context)
        time.sleep(0.02)
    pytest.fail(f"the card did not appear in pcscd within {START_WAIT_S} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


#: The last test that uses the shared stack (the item itself: ``pytest -n``'s
#: ``--dist loadgroup`` renames node ids after this conftest has collected them).
_LAST_USER: list[pytest.Item] = []
_STOPS: list[contextlib.ExitStack] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that start a pcscd of their own (``machine_pcscd``) run after the shared stack
    # is stopped: only one pcscd per machine.
    own = [item for item in items if "machine_pcscd" in getattr(item, "fixturenames", ())]
    if own:
        items[:] = [item for item in items if item not in own] + own
    users = [item for item in items if "pcsc_stack" in getattr(item, "fixturenames", ())]
    _LAST_USER[:] = users[-1:]


@pytest.fixture
def machine_pcscd() -> Iterator[None]:
    """The machine's pcscd slot, for a test that starts pcscd itself (under the same lock as
    the shared stack, which has stopped by then)."""
    reason = _missing()
    if reason is not None:
        _unavailable(reason)
    with _machine_lock():
        if _pcscd_running():
            _unavailable(f"a pcscd not started by these tests already serves {PCSCD_SOCKET}")
        yield


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    if _LAST_USER and item is _LAST_USER[0]:
        for stack in _STOPS:
            stack.close()  # idempotent: the session finaliser then has nothing left to do


@pytest.fixture(scope="session")
def pcsc_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscStack]:
    reason = _missing()
    if reason is not None:
        _unavailable(reason)
    with contextlib.ExitStack() as cleanup:
        _STOPS.append(cleanup)
        cleanup.enter_context(_machine_lock())  # released last
        if _pcscd_running():
            _unavailable(f"a pcscd not started by these tests already serves {PCSCD_SOCKET}")
        home = tmp_path_factory.mktemp("pcsc")
        world = make_world(path=home / "card.json")
        piv_pki = TestPki(NOW)
        piv_user = piv_pki.issue("PIV card user")
        assert isinstance(piv_user.key, ec.EllipticCurvePrivateKey)
        piv = PivCard(piv_user.key, piv_user.cert, pin=PIV_PIN, puk=PIV_PUK)
        slot = CardSlot(world.card)
        server = VpcdServer([slot, piv])
        try:
            server.start()  # both slots listen before pcscd starts
        except ConfigurationError as exc:
            _unavailable(str(exc))
        cleanup.callback(server.stop)  # ... then the card
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
        cleanup.callback(_stop, process)  # pcscd first, by its process id ...
        _wait_for_card(process, log)
        yield PcscStack(world, CARD_READER, BLANK_READER, log, piv, piv_pki, slot)
