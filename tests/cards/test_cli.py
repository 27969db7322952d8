"""cards/cli.py: ``securebox card new | cap | check | serve``, in-process and as a process."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from securebox_auth.cli import main
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from tests.cards.test_vpcd import free_port_pair, message


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().out


def test_new_cap_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card, issuer = str(tmp_path / "card.json"), str(tmp_path / "issuer")
    status, out = run(capsys, "card", "new", "--card", card, "--issuer", issuer, "--pin", "1357")
    assert status == 0
    assert "registered:" in out
    card_id = out.split("registered:")[1].split()[0]
    assert stat.S_IMODE(Path(card).stat().st_mode) == 0o600
    keys_file = Path(issuer) / "issuer-keys.json"
    assert "imk" not in keys_file.read_text()  # encrypted
    assert SoftwareIssuerKeys.load(keys_file, "securebox-demo") is not None
    record = json.loads((Path(issuer) / "cards" / f"{card_id}.json").read_text())
    pan = json.loads(Path(card).read_text())["pan"]
    assert pan not in json.dumps(record)
    assert record["card"]["pan_last4"] == pan[-4:]

    cap = ("card", "cap", "--card", card, "--pin", "1357")
    check = ("card", "check", "--issuer", issuer, "--card-id", card_id)
    status, code = run(capsys, *cap, "--mode", "identify")
    assert status == 0
    assert len(code.strip()) == 8
    assert run(capsys, *check, "--mode", "identify", code.strip()) == (0, "accepted, ATC 1\n")
    assert run(capsys, *check, "--mode", "identify", code.strip())[0] == 1  # replay
    _, code = run(capsys, *cap, "--mode", "respond", "--challenge", "4711")
    assert run(capsys, *check, "--mode", "respond", "--challenge", "4711", code.strip())[0] == 0
    sign = ("--mode", "sign", "--challenge", "67890189", "--amount", "12.50")
    _, code = run(capsys, *cap, *sign)
    assert run(capsys, *check, *sign, code.strip())[0] == 0
    _, code = run(capsys, *cap, *sign)
    wrong = ("--mode", "sign", "--challenge", "67890189", "--amount", "12.51")
    assert run(capsys, *check, *wrong, code.strip()) == (1, "rejected (wrong_code)\n")
    assert main([*cap, "--mode", "respond"]) == 2  # no challenge: an error, not a code
    assert "needs --challenge" in capsys.readouterr().err


def test_belgian_card_signs_with_tds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card, issuer = str(tmp_path / "be.json"), str(tmp_path / "issuer")
    _, out = run(
        capsys, "card", "new", "--kind", "be", "--card", card, "--issuer", issuer, "--pin", "1234"
    )
    card_id = out.split("registered:")[1].split()[0]
    tds = ("--mode", "tds", "--data", "67890189", "--data", "125050")
    _, code = run(
        capsys, "card", "cap", "--card", card, "--pin", "1234", "--profile", "vasco_cap", *tds
    )
    assert (
        run(capsys, "card", "check", "--issuer", issuer, "--card-id", card_id, *tds, code.strip())[
            0
        ]
        == 0
    )
    assert main(["card", "new", "--card", card, "--issuer", issuer, "--pin", "1234"]) == 2  # exists


def test_wrong_pin_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card = str(tmp_path / "card.json")
    run(capsys, "card", "new", "--card", card, "--issuer", str(tmp_path / "i"), "--pin", "1234")
    assert main(["card", "cap", "--card", card, "--pin", "9999", "--mode", "identify"]) == 2
    assert "wrong PIN: 2 tries left" in capsys.readouterr().err


def test_help_lists_the_card_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["card", "--help"])
    out = capsys.readouterr().out
    for command in ("new", "serve", "cap", "check"):
        assert command in out


def test_serve_runs_the_card_on_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = str(tmp_path / "card.json")
    run(capsys, "card", "new", "--card", card, "--issuer", str(tmp_path / "i"), "--pin", "1234")
    port = free_port_pair()
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "securebox_auth.cli",
            "card",
            "serve",
            "--card",
            card,
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        deadline = time.monotonic() + 20
        while "Stop pcscd" not in server.stdout.readline():
            assert time.monotonic() < deadline
            assert server.poll() is None
        with socket.create_connection(("127.0.0.1", port)) as slot0:
            assert message(slot0, b"\x04") == bytes.fromhex("3B80800101")
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
