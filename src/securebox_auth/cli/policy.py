"""``securebox policy``: lint, test, explain and show policies.

* ``securebox policy lint POLICY`` lists conflicts with PSD2 RTS, NIST SP 800-63B-4 and ASVS 5
  (exit 1 on an error, or on a warning with ``--strict``);
* ``securebox policy test POLICY SCENARIO...`` runs scenario files (or every ``*.toml`` of a
  directory), prints a pass/fail table and explains every mismatch (exit 1 on a failure);
* ``securebox policy explain POLICY --event EVENT...`` replays events and explains each
  decision; an event is a scenario step as an inline TOML table
  (``'{event = "login", methods = ["confidential_code"], day = 91}'``) or in short form
  (``"login methods=confidential_code day=91"``);
* ``securebox policy show POLICY`` writes the normalised TOML.

``POLICY`` is a file, or the name of a shipped profile (``psd2-default``, ``psd2-180-days``,
``strict-example``); ``securebox policy test NAME`` without scenarios runs the shipped suite of
that profile.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

from securebox_auth.errors import ScenarioError
from securebox_auth.identity import Principal
from securebox_auth.policy.lint import Severity, lint
from securebox_auth.policy.loader import load_policy, to_toml
from securebox_auth.policy.model import Policy
from securebox_auth.policy.runner import ScenarioResult, run_scenario, run_steps
from securebox_auth.policy.scenario import (
    DEFAULT_PRINCIPAL,
    DEFAULT_START,
    Step,
    load_scenario,
    parse_step,
)
from securebox_auth.policy.shipped import (
    SHIPPED_POLICIES,
    resolve_policy_path,
    shipped_scenarios,
)

__all__ = ["parse_event", "register"]


def _policy(args: argparse.Namespace) -> Policy:
    return load_policy(resolve_policy_path(args.policy))


def _lint(args: argparse.Namespace) -> int:
    policy = _policy(args)
    findings = lint(policy)
    print(f"policy {policy.name} ({args.policy})")
    for finding in findings:
        print(finding.render())
    counts = {s: sum(f.severity is s for f in findings) for s in Severity}
    print(
        f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), "
        f"{counts[Severity.INFO]} info"
    )
    failing = counts[Severity.ERROR] + (counts[Severity.WARNING] if args.strict else 0)
    return 1 if failing else 0


def _scenario_files(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(path.glob("*.toml"))
        else:
            yield path


def _row(status: str, steps: str, name: str, checks: str) -> str:
    return f"{status:<6} {steps:>7}  {name:<44} {checks}"


def _test(args: argparse.Namespace) -> int:
    policy = _policy(args)
    scenarios = args.scenarios
    if not scenarios:
        if args.policy not in SHIPPED_POLICIES or Path(args.policy).exists():
            raise ScenarioError("", "name the scenario files or directories to run")
        scenarios = [str(shipped_scenarios(args.policy))]
    print(f"policy {policy.name} ({args.policy})")
    print(_row("result", "steps", "scenario", "checks"))
    results: list[ScenarioResult] = []
    errors: list[tuple[Path, ScenarioError]] = []
    for file in _scenario_files(scenarios):
        try:
            result = run_scenario(policy, load_scenario(file))
        except ScenarioError as exc:
            errors.append((file, exc))
            print(_row("ERROR", "-", file.stem, str(exc)))
            continue
        results.append(result)
        passed = sum(r.passed for r in result.steps)
        status = "PASS" if result.passed else "FAIL"
        name, checks = result.scenario.name, result.scenario.checks
        print(_row(status, f"{passed}/{len(result.steps)}", name, checks))
        if args.verbose:
            for step in result.steps:
                mark = "ok" if step.passed else "MISMATCH"
                actual = step.actual or "-"
                if step.reason:
                    actual += f" ({step.reason})"
                label = step.step.describe()[:52]
                print(f"{'':16}{step.step.index:>3}. {label:<52} {actual:<32} {mark}")
    failed = [r for r in results if not r.passed]
    for result in failed:
        print(f"\nFAIL {result.scenario.name} ({result.scenario.source})")
        print(f"  checks: {result.scenario.checks}")
        for step in result.failures:
            print("  " + step.report().replace("\n", "\n  "))
    for file, error in errors:
        print(f"\nERROR {file}: {error}")
    total_steps = sum(len(r.steps) for r in results)
    mismatches = sum(len(r.failures) for r in results)
    print(
        f"\n{len(results) + len(errors)} scenario(s): {len(results) - len(failed)} passed, "
        f"{len(failed)} failed, {len(errors)} unreadable; {total_steps} steps, "
        f"{mismatches} mismatch(es)"
    )
    if failed:
        return 1  # a scenario's expectation was not met: the policy said "no"
    # a scenario file that cannot be read or parsed, or nothing to run: a usage error
    return 2 if errors or not results else 0


def _literal(value: str) -> object:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def parse_event(text: str) -> dict[str, object]:
    """Read an ``--event``: an inline TOML table, or ``EVENT key=value ...`` where values are
    TOML literals or bare words, and ``methods=a,b`` is a list."""
    text = text.strip()
    if text.startswith("{"):
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError("--event", f"not an inline TOML table: {exc}") from None
        if not isinstance(value, dict):  # pragma: no cover - the brace makes it a table
            raise ScenarioError("--event", "not a table")
        return value
    words = text.split()
    if not words:
        raise ScenarioError("--event", "empty event")
    event: dict[str, object] = {"event": words[0]}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep:
            raise ScenarioError("--event", f"expected key=value, got {word!r}")
        event[key] = value.split(",") if key == "methods" else _literal(value)
    return event


def _explain(args: argparse.Namespace) -> int:
    policy = _policy(args)
    principal = Principal.from_key(DEFAULT_PRINCIPAL)
    steps: list[Step] = []
    previous = DEFAULT_START
    for index, text in enumerate(args.event, start=1):
        step = parse_step(
            parse_event(text),
            index=index,
            previous=previous,
            start=DEFAULT_START,
            principal=principal,
            channel="web",
        )
        steps.append(step)
        previous = step.at
    print(f"policy {policy.name} ({args.policy})")
    for result in run_steps(policy, steps):
        s = result.step
        print(f"\nstep {s.index} (day {s.day}, {s.at.isoformat()}): {s.describe()}")
        print("  " + result.explanation.replace("\n", "\n  "))
    return 0


def _show(args: argparse.Namespace) -> int:
    text = to_toml(_policy(args))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


_POLICY_HELP = f"policy TOML file, or a shipped profile: {', '.join(SHIPPED_POLICIES)}"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("policy", help="lint, test, explain and show SCA policies")
    sub = group.add_subparsers(title="policy commands", metavar="COMMAND", required=True)

    lint_cmd = sub.add_parser("lint", help="check a policy against PSD2 RTS, NIST, ASVS")
    lint_cmd.add_argument("policy", help=_POLICY_HELP)
    lint_cmd.add_argument("--strict", action="store_true", help="fail on warnings too")
    lint_cmd.set_defaults(handler=_lint)

    test_cmd = sub.add_parser("test", help="run scenario files against a policy")
    test_cmd.add_argument("policy", help=_POLICY_HELP)
    test_cmd.add_argument(
        "scenarios",
        nargs="*",
        help="scenario files or directories (default for a shipped profile: its own suite)",
    )
    test_cmd.add_argument("-v", "--verbose", action="store_true", help="show every step")
    test_cmd.set_defaults(handler=_test)

    explain_cmd = sub.add_parser("explain", help="explain the decisions for some events")
    explain_cmd.add_argument("policy", help=_POLICY_HELP)
    explain_cmd.add_argument(
        "--event",
        action="append",
        required=True,
        help='a scenario step: \'{event = "login", methods = ["confidential_code"]}\' or '
        '"login methods=confidential_code day=91" (repeat for a timeline)',
    )
    explain_cmd.set_defaults(handler=_explain)

    show_cmd = sub.add_parser("show", help="write the normalised TOML of a policy")
    show_cmd.add_argument("policy", help=_POLICY_HELP)
    show_cmd.add_argument("-o", "--output", help="write to this file instead of stdout")
    show_cmd.set_defaults(handler=_show)
