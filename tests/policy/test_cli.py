"""``securebox policy ...`` through the real entry point (securebox_auth.cli.main)."""

from __future__ import annotations

from pathlib import Path

import pytest

from securebox_auth.cli import main
from securebox_auth.cli.policy import parse_event
from securebox_auth.errors import ScenarioError
from securebox_auth.policy import PSD2_DEFAULT, from_toml, load_policy

from .support import POLICIES, SCENARIOS

DEFAULT = str(POLICIES / "psd2-default.toml")


def test_shipped_suite_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "test", DEFAULT, str(SCENARIOS)]) == 0
    out = capsys.readouterr().out
    count = len(list(SCENARIOS.glob("*.toml")))
    assert f"{count} scenario(s): {count} passed, 0 failed, 0 unreadable" in out
    assert "FAIL" not in out
    for name in ("renewal-day-89-vs-91", "batch-payee-added", "lockout-fifth-failure"):
        assert name in out


@pytest.mark.parametrize("profile", ["psd2-default", "psd2-180-days", "strict-example"])
def test_shipped_profiles_by_name(
    profile: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a pip user has no source checkout: the profiles and their suites come with the package
    monkeypatch.chdir(tmp_path)
    assert main(["policy", "lint", profile]) == 0
    assert main(["policy", "test", profile]) == 0
    out = capsys.readouterr().out
    assert f"policy {profile}" in out
    assert " 0 failed, 0 unreadable" in out
    assert main(["policy", "show", profile]) == 0
    assert from_toml(capsys.readouterr().out.encode()) == load_policy(POLICIES / f"{profile}.toml")


def test_an_unknown_policy_name_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["policy", "lint", "psd2-nonesuch"]) == 2
    assert "cannot read psd2-nonesuch" in capsys.readouterr().err
    (tmp_path / "mine.toml").write_text('name = "mine"\n', encoding="utf-8")
    assert main(["policy", "test", "mine.toml"]) == 2
    assert "name the scenario files" in capsys.readouterr().err


@pytest.mark.parametrize("profile", ["psd2-180-days", "strict-example"])
def test_profile_suites_pass(profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    policy = str(POLICIES / f"{profile}.toml")
    assert main(["policy", "test", policy, str(SCENARIOS / profile), "-v"]) == 0
    assert "0 failed" in capsys.readouterr().out


def test_a_wrong_expectation_fails_readably(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (SCENARIOS / "renewal-day-89-vs-91.toml").read_text(encoding="utf-8")
    wrong = text.replace('expect = "step_up"\nreason = "renewal_expired"', 'expect = "allow"', 1)
    assert wrong != text
    file = tmp_path / "wrong.toml"
    file.write_text(wrong, encoding="utf-8")
    assert main(["policy", "test", DEFAULT, str(file)]) == 1
    out = capsys.readouterr().out
    assert "FAIL       5/6  renewal-day-89-vs-91" in out
    assert "step 4 (day 91, 2026-04-06T09:00:00+00:00): login confidential_code" in out
    assert "mismatch: expected allow, got step_up (renewal_expired)" in out
    assert "the last strong authentication on channel web was 91 days ago, more than 90" in out
    assert "1 scenario(s): 0 passed, 1 failed" in out


def test_the_default_suite_fails_under_the_180_day_profile(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The seed's 90-day rule is what the suite checks: a 180-day policy must not pass it.
    policy = str(POLICIES / "psd2-180-days.toml")
    assert main(["policy", "test", policy, str(SCENARIOS / "renewal-day-89-vs-91.toml")]) == 1
    assert "expected step_up, got allow" in capsys.readouterr().out


def test_unreadable_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n', encoding="utf-8")
    assert main(["policy", "test", DEFAULT, str(bad)]) == 2  # a usage error, not a "no"
    out = capsys.readouterr().out
    assert "ERROR" in out
    assert "checks: a scenario names the article" in out


def test_lint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "lint", DEFAULT]) == 0
    assert "0 error(s), 0 warning(s), 0 info" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[renewal]\nevery_days = 200\n[lockout]\nmax_failures = 10\n", "utf-8")
    assert main(["policy", "lint", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "error   renewal.every_days: 200 days" in out
    assert "PSD2 RTS art. 4(3)(b)" in out
    warn = tmp_path / "warn.toml"
    warn.write_text("[recovery]\nsecret_questions = true\n", "utf-8")
    assert main(["policy", "lint", str(warn)]) == 0
    assert main(["policy", "lint", "--strict", str(warn)]) == 1


def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "policy",
            "explain",
            DEFAULT,
            "--event",
            "login methods=cap_identify",
            "--event",
            "operation operation=payee_management payee=FR7630006000011234567890189",
            "--event",
            '{event = "login", methods = ["confidential_code"], day = 91}',
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "step 1 (day 0, 2026-01-05T09:00:00+00:00): login cap_identify" in out
    assert "Allow login (acr urn:securebox:acr:sca)" in out
    assert "StepUpRequired (renewal_expired) for login" in out
    assert "StepUpRequired (no_grant) for operation 'payee_management'" in out
    assert 'WWW-Authenticate: Bearer error="insufficient_user_authentication"' in out


def test_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "show", DEFAULT]) == 0
    assert from_toml(capsys.readouterr().out) == PSD2_DEFAULT
    target = tmp_path / "normalised.toml"
    assert main(["policy", "show", str(POLICIES / "strict-example.toml"), "-o", str(target)]) == 0
    assert load_policy(target) == load_policy(POLICIES / "strict-example.toml")


def test_invalid_policy_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[operation.payee_management]\nmax_age = -5\n", "utf-8")
    assert main(["policy", "lint", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "operation.payee_management.max_age" in err
    assert "(policy_invalid)" in err


def test_parse_event() -> None:
    assert parse_event("login methods=cap_identify,totp day=3 channel=mobile") == {
        "event": "login",
        "methods": ["cap_identify", "totp"],
        "day": 3,
        "channel": "mobile",
    }
    assert parse_event('operation operation=x amount="10.00"') == {
        "event": "operation",
        "operation": "x",
        "amount": "10.00",
    }
    assert parse_event('{event = "wait", after = "5m"}') == {"event": "wait", "after": "5m"}
    for bad in ("", "login methods", "{event = }"):
        with pytest.raises(ScenarioError):
            parse_event(bad)
