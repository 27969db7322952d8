"""Running scenarios (policy/runner.py): the state a shell keeps, and explained mismatches."""

from __future__ import annotations

import pytest

from securebox_auth.errors import ScenarioError
from securebox_auth.policy import PSD2_DEFAULT, load_scenario, parse_scenario, run_scenario

from .support import SCENARIOS

HEAD = 'name = "t"\nchecks = "test"\n'


def _run(steps: str) -> list[tuple[str | None, str | None, tuple[str, ...]]]:
    result = run_scenario(PSD2_DEFAULT, parse_scenario(HEAD + steps))
    return [(r.actual, r.reason, r.mismatches) for r in result.steps]


def test_runner_keeps_state_like_a_shell() -> None:
    rows = _run(
        '[[step]]\nevent = "operation"\noperation = "account_access"\nexpect = "deny"\n'
        'reason = "no_session"\n'
        '[[step]]\nevent = "login"\nmethods = ["cap_identify"]\nexpect = "allow"\n'
        'acr = "urn:securebox:acr:sca"\n'
        '[[step]]\nevent = "logout"\n'
        '[[step]]\nevent = "operation"\noperation = "account_access"\nexpect = "deny"\n'
        '[[step]]\nevent = "failure"\nexpect = "open"\n'
        '[[step]]\nevent = "unblock"\n'
    )
    assert rows == [
        ("deny", "no_session", ()),
        ("allow", None, ()),
        (None, None, ()),
        ("deny", "no_session", ()),
        ("open", None, ()),
        (None, None, ()),
    ]


def test_mismatches_are_explained() -> None:
    result = run_scenario(
        PSD2_DEFAULT,
        parse_scenario(
            HEAD + '[[step]]\nevent = "login"\nmethods = ["confidential_code"]\nexpect = "allow"\n'
            'reason = "renewal_expired"\nrule = "renewal.recent"\nacr = "x"\n'
            'checks = "RTS art. 10(2)(a)"\n'
            '[[step]]\nevent = "failure"\nexpect = "blocked"\nalert = "final_warning"\n'
        ),
    )
    assert not result.passed
    first, second = result.failures
    assert first.mismatches == (
        "expected allow, got step_up (first_access)",
        "expected reason renewal_expired, got first_access",
        "expected rule renewal.recent to fire; fired: renewal.first_access",
        "expected acr x, got (none)",
    )
    report = first.report()
    assert report.startswith("step 1 (day 0, 2026-01-05T09:00:00+00:00): login confidential_code")
    assert "  checks: RTS art. 10(2)(a)" in report
    assert "renewal.first_access [PSD2 RTS art. 10(2)(a)" in report
    assert 'WWW-Authenticate: Bearer error="insufficient_user_authentication"' in report
    assert second.mismatches == (
        "expected blocked, got open",
        "expected alert final_warning, got none",
    )


def test_authoring_mistakes_stop_the_run() -> None:
    with pytest.raises(ScenarioError, match="not enrolled totp"):
        _run(
            '[[step]]\nevent = "enrol"\nmethods = ["confidential_code"]\n'
            '[[step]]\nevent = "login"\nmethods = ["totp"]\n'
        )
    with pytest.raises(ScenarioError, match="no pending operation challenge"):
        _run('[[step]]\nevent = "step_up"\nmethods = ["cap_sign"]\n')


def test_shipped_suite_names_what_it_checks() -> None:
    files = sorted(SCENARIOS.glob("*.toml"))
    assert len(files) >= 12
    for file in files:
        scenario = load_scenario(file)
        assert scenario.checks, file
        assert scenario.description, file
        assert any(word in scenario.checks for word in ("RTS", "guide", "EBA", "ASVS")), file
        result = run_scenario(PSD2_DEFAULT, scenario)
        assert result.passed, "\n".join(r.report() for r in result.failures)
