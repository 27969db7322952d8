"""The linter (policy/lint.py): PSD2 RTS, NIST SP 800-63B-4 and ASVS 5 conflicts."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from securebox_auth.factors.cap import CapRules
from securebox_auth.factors.code_strength import CodeRules
from securebox_auth.factors.oob import OobRules
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.policy import (
    PSD2_DEFAULT,
    Linking,
    LoginRules,
    OperationRule,
    Policy,
    RecoveryRules,
    Renewal,
    RenewalRule,
    SessionRules,
    Unlisted,
    load_policy,
)
from securebox_auth.policy.lint import Finding, Severity, lint

from .support import POLICIES


def _codes(policy: Policy) -> dict[str, Finding]:
    return {f.code: f for f in lint(policy)}


def test_default_is_clean() -> None:
    assert lint(PSD2_DEFAULT) == ()


@pytest.mark.parametrize("name", ["psd2-default", "psd2-180-days", "strict-example"])
def test_shipped_policies_have_no_error_or_warning(name: str) -> None:
    findings = lint(load_policy(POLICIES / f"{name}.toml"))
    assert all(f.severity is Severity.INFO for f in findings), findings


CASES = [
    # (change, code, severity, path, a citation it must carry)
    (
        {"renewal": Renewal(every_days=181)},
        "renewal-beyond-180-days",
        Severity.ERROR,
        "renewal.every_days",
        "PSD2 RTS art. 10(2)(b)",
    ),
    (
        {"renewal": Renewal(channels=(("aisp", RenewalRule(every_days=365)),))},
        "renewal-beyond-180-days",
        Severity.ERROR,
        "renewal.channel.aisp.every_days",
        "2022/2360",
    ),
    (
        {"renewal": Renewal(every_days=180)},
        "renewal-beyond-seed-90-days",
        Severity.INFO,
        "renewal.every_days",
        "Coop@ccess guide",
    ),
    (
        {"renewal": Renewal(every_login=True)},
        "renewal-every-login",
        Severity.INFO,
        "renewal.every_login",
        "PSD2 RTS art. 10",
    ),
    (
        {"lockout": LockoutRules(max_failures=6)},
        "lockout-over-5-attempts",
        Severity.ERROR,
        "lockout.max_failures",
        "NIST SP 800-63B-4 sec. 3.2.2",
    ),
    (
        {"lockout": LockoutRules(temporary_block=None)},
        "lockout-permanent-at-once",
        Severity.WARNING,
        "lockout.temporary_block",
        "ASVS 5 6.1.1",
    ),
    (
        {"lockout": LockoutRules(failure_window=timedelta(seconds=1))},
        "lockout-window-paces-guesses",
        Severity.ERROR,
        "lockout.failure_window",
        "PSD2 RTS art. 4(3)(b)",
    ),
    (
        {"lockout": LockoutRules(failure_window=timedelta(days=30))},
        "lockout-window-paces-guesses",
        Severity.ERROR,
        "lockout.failure_window",
        "PSD2 RTS art. 4(4)-(5)",
    ),
    (
        {"lockout": LockoutRules(max_temporary_blocks=None)},
        "lockout-never-permanent",
        Severity.WARNING,
        "lockout.max_temporary_blocks",
        "PSD2 RTS art. 4(4)-(5)",
    ),
    (
        {"session": SessionRules(idle_timeout=timedelta(minutes=6))},
        "idle-over-5-minutes",
        Severity.ERROR,
        "session.idle_timeout",
        "PSD2 RTS art. 4(3)(d)",
    ),
    (
        {"session": SessionRules(absolute_lifetime=timedelta(hours=30))},
        "lifetime-over-24-hours",
        Severity.WARNING,
        "session.absolute_lifetime",
        "AAL2",
    ),
    (
        {"session": SessionRules(absolute_lifetime=timedelta(hours=20))},
        "lifetime-over-12-hours",
        Severity.INFO,
        "session.absolute_lifetime",
        "AAL3",
    ),
    (
        {"recovery": RecoveryRules(secret_questions=True)},
        "secret-questions",
        Severity.WARNING,
        "recovery.secret_questions",
        "ASVS 5 6.4.2",
    ),
    (
        {"recovery": RecoveryRules(reset_link_lifetime=timedelta(days=2))},
        "reset-link-over-24-hours",
        Severity.WARNING,
        "recovery.reset_link_lifetime",
        "4.2",
    ),
    (
        {"code": CodeRules(length=6)},
        "numeric-code-under-8-digits",
        Severity.WARNING,
        "code.length",
        "ASVS 5 6.2.1",
    ),
    (
        {"login": LoginRules(methods=("confidential_code", "cap_identify", "recovery_code"))},
        "recovery-code-accepted",
        Severity.WARNING,
        "login.methods",
        "ASVS 5 6.4.3",
    ),
    (
        {"login": LoginRules(methods=("confidential_code", "cap_identify"))},
        "no-phishing-resistant-option",
        Severity.WARNING,
        "login.methods",
        "SHALL offer",
    ),
    (
        {"unlisted_operations": Unlisted.ALLOW},
        "unlisted-operations-allowed",
        Severity.WARNING,
        "unlisted_operations",
        "ASVS 5 8.1.1",
    ),
    (
        {"oob": OobRules(max_wrong=6)},
        "oob-tries-over-5",
        Severity.WARNING,
        "oob.max_wrong",
        "4(3)(b)",
    ),
    (
        {"oob": OobRules(min_interval=timedelta(0))},
        "oob-sends-loosely-throttled",
        Severity.WARNING,
        "oob",
        "rate limiting",
    ),
    (
        {"oob": OobRules(per_user=11)},
        "oob-sends-loosely-throttled",
        Severity.WARNING,
        "oob",
        "rate limiting",
    ),
    (
        {"oob": OobRules(lifetime=timedelta(minutes=10))},
        "oob-lifetime-over-5-minutes",
        Severity.INFO,
        "oob.lifetime",
        "6.5.4",
    ),
    ({"cap": CapRules(window=65)}, "cap-window-wide", Severity.WARNING, "cap.window", "ATC"),
]


@pytest.mark.parametrize(("change", "code", "severity", "path", "cite"), CASES)
def test_findings(
    change: dict[str, object], code: str, severity: Severity, path: str, cite: str
) -> None:
    found = _codes(dataclasses.replace(PSD2_DEFAULT, **change))  # type: ignore[arg-type]
    assert code in found, list(found)
    finding = found[code]
    assert finding.severity is severity
    assert finding.path == path
    assert any(cite in c for c in finding.cites), finding.cites
    assert code in finding.render()


def test_idle_beyond_an_hour_mentions_nist() -> None:
    policy = dataclasses.replace(
        PSD2_DEFAULT, session=SessionRules(idle_timeout=timedelta(hours=2))
    )
    assert "NIST" in _codes(policy)["idle-over-5-minutes"].message


def test_operations() -> None:
    weak = PSD2_DEFAULT.with_operations(
        [
            OperationRule(
                name="sepa_instant_transfer", methods=("cap_identify", "email_otp"), payment=True
            ),
            OperationRule(
                name="cheque_book_order", methods=("confidential_code",), min_categories=1
            ),
            OperationRule(name="entitlements_management", sensitive=False, methods=()),
            OperationRule(name="custom_reauth", methods=("confidential_code",), min_categories=1),
        ]
    )
    found = lint(weak)
    by_path = {(f.code, f.path): f for f in found}
    assert by_path[("payment-without-dynamic-linking", "operation.sepa_instant_transfer.linking")]
    assert by_path[("email-otp-accepted", "operation.sepa_instant_transfer.methods")]
    assert (
        by_path[("operation-not-sca", "operation.cheque_book_order.min_categories")].severity
        is Severity.ERROR
    )
    assert (
        by_path[("operation-not-sca", "operation.custom_reauth.min_categories")].severity
        is Severity.INFO
    )
    assert by_path[("seed-operation-not-sensitive", "operation.entitlements_management.sensitive")]
    assert [f.severity for f in found] == sorted(
        (f.severity for f in found), key=[Severity.ERROR, Severity.WARNING, Severity.INFO].index
    )


def test_missing_payee_management() -> None:
    without = dataclasses.replace(
        PSD2_DEFAULT,
        operations=tuple(r for r in PSD2_DEFAULT.operations if r.name != "payee_management"),
    )
    finding = _codes(without)["seed-operation-missing"]
    assert finding.severity is Severity.WARNING  # denied by default: never without SCA
    allowing = dataclasses.replace(without, unlisted_operations=Unlisted.ALLOW)
    errors = [f for f in lint(allowing) if f.code == "seed-operation-missing"]
    assert errors[0].severity is Severity.ERROR
    assert "PSD2 RTS art. 13" in errors[0].cites
    not_sensitive = PSD2_DEFAULT.with_operations(
        [OperationRule(name="payee_management", sensitive=False, methods=())]
    )
    assert _codes(not_sensitive)["seed-operation-not-sensitive"].severity is Severity.ERROR
    assert Linking.PAYEE  # the default links the payee
