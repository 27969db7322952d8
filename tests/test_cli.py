"""The ``securebox`` command: help, demo, argon2 calibration."""

from __future__ import annotations

import subprocess
import sys

import pytest

from securebox_auth.cli import main
from securebox_auth.cli.demo import run_demo


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "argon2"):
        assert command in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "commands" in err
    assert "name a command" in err


def test_a_command_group_alone_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for group in ("token", "argon2", "policy", "card", "db"):
        with pytest.raises(SystemExit) as exc:
            main([group])
        assert exc.value.code == 2, group
        assert "required" in capsys.readouterr().err


def test_demo_shows_login_lockout_and_forced_change() -> None:
    lines: list[str] = []
    assert run_demo(lines.append, fast=True) == 0
    text = "\n".join(lines)
    assert "-> change_required" in text
    assert "-> accepted" in text
    assert "-> blocked until" in text
    assert "audit chain verified" in text
    # the unknown user and the real one get the same answers, attempt by attempt
    real = [ln.split("->")[1] for ln in lines if "attempt" in ln and " on 02 " in f"{ln} "]
    ghost = [ln.split("->")[1] for ln in lines if "attempt" in ln and "no such user" in ln]
    assert real == ghost
    assert len(real) == 6


def test_console_script_runs_demo() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "securebox_auth.cli", "demo", "--fast"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "audit chain verified" in done.stdout


def test_argon2_calibrate_proposes_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["argon2", "calibrate", "--target-ms", "0.001", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "proposed: Argon2Parameters(time_cost=2" in out


@pytest.mark.parametrize(("memory_kib", "floor"), [(19456, 2), (12288, 3), (9216, 4), (7168, 5)])
def test_argon2_calibrate_never_proposes_less_than_owasp(
    memory_kib: int, floor: int, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--target-ms", "0.001", "--rounds", "1", "--memory-kib", str(memory_kib)]
    assert main(["argon2", "calibrate", *args]) == 0
    assert f"proposed: Argon2Parameters(time_cost={floor}," in capsys.readouterr().out


@pytest.mark.parametrize("memory_kib", ["8", "7167", "0", "-5"])
def test_argon2_calibrate_refuses_too_little_memory(
    memory_kib: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["argon2", "calibrate", "--memory-kib", memory_kib, "--rounds", "1"]) == 2
    assert "OWASP minimum" in capsys.readouterr().err
