"""Every ``securebox`` sub-command, given bad or missing input, ends with a message and exit
status 1 or 2, never a traceback.

The commands run in one child interpreter with no controlling terminal (``setsid``), standard
input closed and an empty working directory, as in a CI job or a service: a command that
would ask for a PIN must say so instead. PC/SC (pcscd) is used only if it is running; without
it, ``card cap`` must say how to start it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from securebox_auth.cli import build_parser

# Run inside the child: every leaf command of the parser, each with
# * an unknown option; * its arguments missing (when it has required ones);
# * each value option in turn set to something wrong (files that do not exist, numbers that
#   are out of range, text that does not parse), the required ones given junk as well.
HARNESS = textwrap.dedent(
    r"""
    import argparse, contextlib, io, json, sys, traceback
    from securebox_auth.cli import build_parser, main

    # Options that would start a server on a port or a real stack: given only junk that
    # fails before anything is bound.
    NEVER = {"--host", "--port", "--no-pcscd", "--demo", "--yes", "--force", "--fast"}
    BAD = {
        int: ["-1", "x"],
        float: ["-1", "nan"],
        None: ["/nonexistent/securebox-junk", "%%junk%%", ""],
    }
    KEEP = {"--mode": "respond"}  # a valid choice, so the command itself runs
    # Valid values for some arguments, so that the next argument's check is reached too.
    GOOD = {"policy": "psd2-default", "--mode": "identify"}

    def leaves(parser, path):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield path, parser
        for sub in subs:
            for name, child in sub.choices.items():
                yield from leaves(child, [*path, name])

    def required(parser, junk, good=False):
        known = {**KEEP, **GOOD} if good else KEEP
        argv = []
        for a in parser._actions:
            if a.option_strings and a.required:
                argv += [a.option_strings[-1], known.get(a.option_strings[-1], junk)]
        for a in parser._actions:
            if not a.option_strings and a.nargs != 0 and a.required:
                argv.append(known.get(a.dest, junk) if good else junk)
        return argv

    def cases(path, parser):
        yield [*path, "--no-such-option"]
        has_required = any(a.required for a in parser._actions)
        if has_required:
            yield path
        values = [
            a for a in parser._actions
            if a.option_strings and a.nargs != 0 and a.option_strings[-1] not in NEVER
            and a.option_strings[-1] not in KEEP and not isinstance(a, argparse._HelpAction)
        ]
        for junk in BAD[None] if has_required else BAD[None][:1]:
            if has_required:
                yield [*path, *required(parser, junk)]
                partly = required(parser, junk, good=True)
                if junk in partly:  # some arguments still wrong
                    yield [*path, *partly]
            for a in values:
                if a.required:
                    continue
                for value in BAD.get(a.type, BAD[None]):
                    yield [*path, *required(parser, junk), a.option_strings[-1], value]

    results = []
    for path, parser in leaves(build_parser(), []):
        for argv in cases(path, parser):
            err, out = io.StringIO(), io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                try:
                    code = main(argv)
                except SystemExit as exc:
                    code = exc.code
                except BaseException:
                    code = "traceback"
                    traceback.print_exc(file=err)
            err, out = err.getvalue(), out.getvalue()
            results.append({"leaf": path, "argv": argv, "code": code, "err": err, "out": out})
    json.dump(results, sys.stdout)
    """
)

# Junk that a command legitimately accepts (exit 0): the argument is free text.
ACCEPTED = {
    # a free-text label or a name: any text is a valid value
    ("card", "new", "--subject"),
    ("card", "new", "--card"),
    ("card", "new", "--issuer"),
    ("card", "cap", "--currency"),  # respond mode: the currency is not used
    ("card", "cap", "--amount"),
    ("card", "cap", "--data"),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    cwd = tmp_path_factory.mktemp("cli")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREBOX_")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1] / "src"), *sys.path])
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", HARNESS],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        start_new_session=True,  # no controlling terminal: getpass cannot open /dev/tty
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {path}
    return {
        leaf
        for sub in subs
        for name, child in sub.choices.items()
        for leaf in _leaves(child, (*path, name))
    }


def test_every_leaf_command_is_swept(results: list[dict[str, Any]]) -> None:
    leaves = _leaves(build_parser())
    assert len(leaves) >= 19
    swept = {tuple(r["leaf"]) for r in results}
    assert swept == leaves
    # each of them ran its handler at least once (not only argparse's refusals)
    handled = {tuple(r["leaf"]) for r in results if "securebox: error:" in r["err"]}
    assert handled >= leaves - {("demo",)}, sorted(leaves - handled)


def test_no_traceback_and_exit_1_or_2(results: list[dict[str, Any]]) -> None:
    problems = []
    for r in results:
        argv = [str(a) for a in r["argv"]]
        err = str(r["err"])
        accepted = any(tuple(argv[: len(k) - 1]) == k[:-1] and k[-1] in argv for k in ACCEPTED)
        if "Traceback" in err or r["code"] == "traceback":
            problems.append(f"{argv}: traceback\n{err}")
        elif r["code"] not in (1, 2) and not (accepted and r["code"] == 0):
            problems.append(f"{argv}: exit {r['code']}\n{err}")
        elif r["code"] in (1, 2) and not (err.strip() or r["out"].strip()):
            problems.append(f"{argv}: exit {r['code']} without a message")
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} problems)"


def _securebox(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``securebox ARGS`` as a new user runs it: no controlling terminal, no input."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SECUREBOX_")}
    environment["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1] / "src"), *sys.path])
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "securebox_auth.cli", *args],
        cwd=cwd,
        env={**environment, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
        check=False,
    )


def test_card_cap_without_pcscd_says_how_to_start_it(tmp_path: Path) -> None:
    # pcsc-lite's client library connects to this socket: one that does not exist is a
    # machine without pcscd (whatever runs on this one).
    no_pcscd = {"PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm")}
    done = _securebox(tmp_path, "card", "cap", "--mode", "identify", "--pin", "1234", env=no_pcscd)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "PC/SC service is not running" in done.stderr
    assert "start pcscd" in done.stderr
    assert "--card FILE" in done.stderr
    assert "(environment_unavailable)" in done.stderr


def test_card_check_with_an_unknown_card_id(tmp_path: Path) -> None:
    made = _securebox(tmp_path, "card", "new", "--pin", "1357")
    assert made.returncode == 0, made.stderr
    known = made.stdout.split("registered:")[1].split()[0]
    done = _securebox(tmp_path, "card", "check", "--mode", "identify", "--card-id", "card-0", "1")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "no card 'card-0'" in done.stderr
    assert known in done.stderr  # the ids that exist
    assert "'securebox card new' printed" in done.stderr
    assert "(not_found)" in done.stderr
    # an issuer directory that does not exist is not created by a failed check
    elsewhere = _securebox(
        tmp_path,
        "card",
        "check",
        "--mode",
        "identify",
        "--issuer",
        "nowhere",
        "--card-id",
        "x",
        "1",
    )
    assert elsewhere.returncode == 2
    assert not (tmp_path / "nowhere").exists()


def test_card_new_without_a_terminal_asks_for_pin_option(tmp_path: Path) -> None:
    done = _securebox(tmp_path, "card", "new")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "no terminal to ask the PIN on" in done.stderr
    assert "--pin" in done.stderr
    assert not (tmp_path / "securebox-card.json").exists()
    # a PIN no CAP reader can send is refused before anything is written
    bad = _securebox(tmp_path, "card", "new", "--pin", "12ab")
    assert bad.returncode == 2
    assert "a PIN is made of digits" in bad.stderr
    assert not (tmp_path / "securebox-card.json").exists()


def test_a_rejected_code_exits_1(tmp_path: Path) -> None:
    made = _securebox(tmp_path, "card", "new", "--pin", "1357")
    card_id = made.stdout.split("registered:")[1].split()[0]
    done = _securebox(
        tmp_path, "card", "check", "--mode", "identify", "--card-id", card_id, "12345678"
    )
    assert (done.returncode, done.stdout) == (1, "rejected (wrong_code)\n"), done.stderr
