"""``securebox card piv serve``: the software PIV card as a command, with and without its
own pcscd; what is missing is a typed error and exit code 2, never a traceback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from securebox_auth.cards import piv_cli
from securebox_auth.cards.piv import PivCard
from securebox_auth.cli import main
from tests.cards.conftest import PcscStack
from tests.cards.test_vpcd import free_port_pair, message

PIN: Final = "246810"
PUK: Final = "13572468"
OPENSC_MODULE: Final = Path("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")
SELECT_PIV: Final = bytes.fromhex("00A4040009A0000003080000100000")


def _verify(pin: bytes) -> bytes:
    return bytes.fromhex("0020008008") + pin.ljust(8, b"\xff")


@pytest.fixture
def command(tmp_path: Path) -> list[str]:
    return [
        sys.executable, "-m", "securebox_auth.cli", "card", "piv", "serve", "--demo",
        "--cert-out", str(tmp_path / "piv.pem"), "--pin", PIN, "--puk", PUK,
    ]  # fmt: skip


def _start(argv: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    server = subprocess.Popen(  # noqa: S603 - the test's own command line
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert server.stdout is not None
    deadline = time.monotonic() + 30
    while "Stop with Ctrl-C" not in server.stdout.readline():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            _, err = server.communicate()
            pytest.fail(f"the command did not start: {err}")
    return server


def _stop(server: subprocess.Popen[str]) -> str:
    server.send_signal(signal.SIGTERM)
    _, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert "Traceback" not in err
    return err


def test_serve_without_pcscd_answers_on_loopback(command: list[str], tmp_path: Path) -> None:
    port = free_port_pair()
    server = _start([*command, "--no-pcscd", "--port", str(port)])
    try:
        cert = x509.load_pem_x509_certificate((tmp_path / "piv.pem").read_bytes())
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        with socket.create_connection(("127.0.0.1", port)) as slot0:
            assert message(slot0, b"\x04") == PivCard.atr
            answer = message(slot0, SELECT_PIV)
            assert answer is not None
            assert answer[-2:] == b"\x90\x00"
            wrong = [message(slot0, _verify(b"000000")) for _ in range(4)]
            assert [w.hex().upper() if w else "" for w in wrong] == [
                "63C2", "63C1", "63C0", "6983",
            ]  # fmt: skip
        with socket.create_connection(("127.0.0.1", port + 1)) as slot1:  # a blank card
            assert message(slot1, b"\x04")
    finally:
        _stop(server)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().err


def test_missing_pieces_are_typed_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ("card", "piv", "serve", "--pin", PIN, "--puk", PUK, "--port", str(free_port_pair()))
    status, err = _run(capsys, *base)
    assert status == 2
    assert "--key and --cert" in err
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key", encoding="utf-8")
    status, err = _run(capsys, *base, "--key", str(bad), "--cert", str(bad))
    assert (status, "(configuration)" in err) == (2, True)
    rsa_free = tmp_path / "key.pem"
    key = ec.generate_private_key(ec.SECP384R1())
    rsa_free.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    status, err = _run(capsys, *base, "--key", str(rsa_free), "--cert", str(bad))
    assert status == 2
    demo = (*base, "--demo", "--cert-out", str(tmp_path / "c.pem"))
    monkeypatch.setattr(piv_cli, "VPCD_DRIVER", tmp_path / "no-driver.so")
    status, err = _run(capsys, *demo)
    assert status == 2
    assert "vsmartcard-vpcd (pcsc_unavailable)" in err
    monkeypatch.undo()
    if not piv_cli.VPCD_DRIVER.exists():
        pytest.skip("the vpcd driver is not installed here")
    monkeypatch.setenv("PATH", str(tmp_path))  # no pcscd on it
    status, err = _run(capsys, *demo)
    assert status == 2
    assert "pcscd is not installed" in err
    assert "Traceback" not in err


def test_a_running_pcscd_is_reported(
    pcsc_stack: PcscStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["card", "piv", "serve", "--demo", "--cert-out", str(tmp_path / "c.pem")]
    status, err = _run(capsys, *argv, "--pin", PIN, "--puk", PUK)
    assert status == 2
    assert "already serves" in err
    assert "--no-pcscd" in err


def _pkcs11_tool(*argv: str) -> str:
    tool = shutil.which("pkcs11-tool")
    assert tool is not None
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [tool, "--module", str(OPENSC_MODULE), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout + done.stderr


def test_the_command_runs_pcscd_and_opensc_uses_the_card(
    machine_pcscd: None, command: list[str]
) -> None:
    if not OPENSC_MODULE.exists() or shutil.which("pkcs11-tool") is None:
        pytest.skip("opensc is not installed (apt-get install opensc)")
    server = _start(command)
    try:
        deadline = time.monotonic() + 20
        while "PIV" not in (slots := _pkcs11_tool("--list-slots")):
            assert time.monotonic() < deadline, slots
            time.sleep(0.2)
        login = ("--slot-description", "Virtual PCD 00 00", "--login", "--list-objects")
        assert "CKR_PIN_INCORRECT" in _pkcs11_tool(*login, "--pin", "000000")
        assert "Private Key Object; EC" in _pkcs11_tool(*login, "--pin", PIN)
    finally:
        _stop(server)
    assert not piv_cli._pcscd_running()  # the command stopped its pcscd
