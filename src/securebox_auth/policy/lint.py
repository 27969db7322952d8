"""``securebox policy lint``: where a policy conflicts with PSD2 RTS, NIST SP 800-63B-4 or
OWASP ASVS 5.

A policy that loads is well formed; the linter says whether it is *wise*. Each
:class:`Finding` has a severity, a stable ``code``, the ``path`` of the key at fault, a message
and the rules it cites (articles of the RTS, sections of NIST SP 800-63B-4, ASVS 5 ids):

* **error**: the policy breaks a binding PSD2 rule (renewal beyond 180 days, more than 5
  attempts, a failure window that lets an attacker pace guesses forever, idle timeout beyond
  5 minutes, payee management or a payment without SCA or dynamic linking);
* **warning**: it conflicts with NIST SP 800-63B-4 or ASVS 5 (secret questions, numeric codes
  shorter than 8 digits, e-mail codes, long sessions), or drops a rule of the Coop@ccess guide;
* **info**: a legal choice worth knowing (180 days instead of the seed's 90, SCA at every
  login).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.policy.model import (
    SEED_SENSITIVE_OPERATIONS,
    Linking,
    OperationRule,
    Policy,
    Unlisted,
)

__all__ = ["Finding", "Severity", "lint"]

_RTS10: Final = "PSD2 RTS art. 10(2)(b) as amended by Reg. (EU) 2022/2360 (180 days)"
_SEED90: Final = "Coop@ccess guide: strong authentication at first access, then every 90 days"


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


_ORDER: Final = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    code: str
    path: str
    message: str
    cites: tuple[str, ...]

    def render(self) -> str:
        return (
            f"{self.severity.value:7} {self.path}: {self.message} [{self.code}]\n"
            f"        cites: {'; '.join(self.cites)}"
        )


def _renewal(policy: Policy) -> Iterator[Finding]:
    rules = [("renewal", policy.renewal.default_rule)]
    rules += [(f"renewal.channel.{name}", rule) for name, rule in policy.renewal.channels]
    for path, rule in rules:
        if rule.every_login:
            yield Finding(
                Severity.INFO,
                "renewal-every-login",
                f"{path}.every_login",
                "strong authentication at every login: stricter than RTS art. 10 requires",
                ("PSD2 RTS art. 10 (an optional exemption)",),
            )
        elif rule.every_days > 180:
            yield Finding(
                Severity.ERROR,
                "renewal-beyond-180-days",
                f"{path}.every_days",
                f"{rule.every_days} days between strong authentications: PSD2 allows at most 180",
                (_RTS10, _SEED90),
            )
        elif rule.every_days > 90:
            yield Finding(
                Severity.INFO,
                "renewal-beyond-seed-90-days",
                f"{path}.every_days",
                f"{rule.every_days} days: legal since 25 July 2023, but the source documents "
                "promise 90",
                (_RTS10, _SEED90),
            )


def _lockout(policy: Policy) -> Iterator[Finding]:
    lock = policy.lockout
    if lock.max_failures > 5:
        yield Finding(
            Severity.ERROR,
            "lockout-over-5-attempts",
            "lockout.max_failures",
            f"{lock.max_failures} consecutive failures before a block: PSD2 allows at most 5 "
            "(NIST SP 800-63B-4 allows up to 100: PSD2 is the binding rule here)",
            ("PSD2 RTS art. 4(3)(b)", "NIST SP 800-63B-4 sec. 3.2.2"),
        )
    if lock.temporary_block is None:
        yield Finding(
            Severity.WARNING,
            "lockout-permanent-at-once",
            "lockout.temporary_block",
            "every block is permanent: anyone who knows a user number can lock its owner out",
            ("ASVS 5 6.1.1 (malicious lockout)", "PSD2 RTS art. 4(4)-(5)"),
        )
    yield from _paced_guesses(lock)


_YEAR: Final = timedelta(days=365)


def _per_year(guesses: int, every: timedelta) -> int:
    return int(guesses * (_YEAR / every))


def _paced_guesses(lock: LockoutRules) -> Iterator[Finding]:
    """Settings under which an attacker who paces guesses is never blocked for good
    (ADR 0008): every failure window, and temporary blocks that never become permanent."""
    cites = ("PSD2 RTS art. 4(3)(b)", "PSD2 RTS art. 4(4)-(5)", "NIST SP 800-63B-4 sec. 3.2.2")
    window = lock.failure_window
    if window is not None:
        paced = lock.max_failures - 1
        yield Finding(
            Severity.ERROR,
            "lockout-window-paces-guesses",
            "lockout.failure_window",
            f"a series of failures ends after {window} without a failure: an attacker who "
            f"waits that long after every {paced} wrong attempts is never blocked "
            f"({_per_year(paced, window)} guesses a year at each element) and no block "
            "ever becomes permanent; set 0 so that failures count until a success",
            cites,
        )
    if lock.temporary_block is not None and lock.max_temporary_blocks is None:
        yield Finding(
            Severity.WARNING,
            "lockout-never-permanent",
            "lockout.max_temporary_blocks",
            f"blocks are never permanent: an attacker may make {lock.max_failures} guesses "
            f"every {lock.temporary_block} forever "
            f"({_per_year(lock.max_failures, lock.temporary_block)} a year at each element)",
            cites,
        )


def _session(policy: Policy) -> Iterator[Finding]:
    rules = policy.session
    if rules.idle_timeout > timedelta(minutes=5):
        nist = (
            " and NIST SP 800-63B-4's 1 hour for AAL2"
            if rules.idle_timeout > timedelta(hours=1)
            else ""
        )
        yield Finding(
            Severity.ERROR,
            "idle-over-5-minutes",
            "session.idle_timeout",
            f"idle timeout of {int(rules.idle_timeout.total_seconds())} s exceeds PSD2's 5 "
            f"minutes{nist}",
            ("PSD2 RTS art. 4(3)(d)", "NIST SP 800-63B-4 sec. 2 (AAL2 1 h, AAL3 15 min)"),
        )
    if rules.absolute_lifetime > timedelta(hours=24):
        yield Finding(
            Severity.WARNING,
            "lifetime-over-24-hours",
            "session.absolute_lifetime",
            "sessions live more than 24 hours without reauthentication",
            ("NIST SP 800-63B-4 sec. 2 (AAL2: SHOULD <= 24 h)", "ASVS 5 7.1.1"),
        )
    elif rules.absolute_lifetime > timedelta(hours=12):
        yield Finding(
            Severity.INFO,
            "lifetime-over-12-hours",
            "session.absolute_lifetime",
            "sessions live more than 12 hours: fine for AAL2, not for AAL3",
            ("NIST SP 800-63B-4 sec. 2 (AAL3: SHALL <= 12 h)",),
        )


def _secrets(policy: Policy) -> Iterator[Finding]:
    if policy.recovery.secret_questions:
        yield Finding(
            Severity.WARNING,
            "secret-questions",
            "recovery.secret_questions",
            "secret questions are allowed: PSD2 tolerates them as a knowledge element, NIST "
            "and ASVS forbid them; never let them be the only factor",
            (
                "NIST SP 800-63B-4 sec. 3.1.1.2 (SHALL NOT prompt for KBA or security questions)",
                "NIST 800-63 FAQ Q-B7",
                "ASVS 5 6.4.2",
                "EBA-Op-2019-06 (PSD2 view)",
            ),
        )
    if policy.recovery.reset_link_lifetime > timedelta(hours=24):
        yield Finding(
            Severity.WARNING,
            "reset-link-over-24-hours",
            "recovery.reset_link_lifetime",
            "password-reset links sent by e-mail live more than 24 hours",
            ("NIST SP 800-63B-4 sec. 4.2",),
        )
    if policy.code.length < 8:
        yield Finding(
            Severity.WARNING,
            "numeric-code-under-8-digits",
            "code.length",
            f"confidential codes of {policy.code.length} digits: NIST and ASVS ask for at "
            "least 8 characters (PSD2 sets no length); only an activation PIN may be shorter",
            ("NIST SP 800-63B-4 sec. 3.1.1", "ASVS 5 6.2.1"),
        )


def _methods(path: str, names: tuple[str, ...]) -> Iterator[Finding]:
    if "recovery_code" in names:
        yield Finding(
            Severity.WARNING,
            "recovery-code-accepted",
            path,
            "recovery codes are for account recovery; they never count towards SCA here",
            ("NIST SP 800-63B-4 sec. 4.2", "ASVS 5 6.4.3"),
        )
    if "email_otp" in names:
        yield Finding(
            Severity.WARNING,
            "email-otp-accepted",
            path,
            "an e-mail code does not prove possession of one device (a mailbox is reachable "
            "from anywhere)",
            ("PSD2 RTS art. 7", "NIST SP 800-63B-4 (e-mail is not an out-of-band channel)"),
        )


def _operation(rule: OperationRule) -> Iterator[Finding]:
    path = f"operation.{rule.name}"
    seed = rule.name in SEED_SENSITIVE_OPERATIONS
    if not rule.sensitive:
        if seed:
            yield Finding(
                Severity.ERROR if rule.name == "payee_management" else Severity.WARNING,
                "seed-operation-not-sensitive",
                f"{path}.sensitive",
                f"{rule.name} is a sensitive operation in the source documents",
                ("Coop@ccess guide", "PSD2 RTS art. 13")
                if rule.name == "payee_management"
                else ("Coop@ccess guide",),
            )
        return
    yield from _methods(f"{path}.methods", rule.methods)
    if rule.min_categories < 2:
        yield Finding(
            Severity.ERROR if (seed or rule.payment) else Severity.INFO,
            "operation-not-sca",
            f"{path}.min_categories",
            "one category is re-authentication, not strong customer authentication",
            ("PSD2 art. 97(1)", "Coop@ccess guide"),
        )
    if rule.payment and rule.linking not in (Linking.AMOUNT_PAYEE, Linking.BATCH):
        yield Finding(
            Severity.ERROR,
            "payment-without-dynamic-linking",
            f"{path}.linking",
            "a remote payment needs a code linked to its amount and payee (or batch total "
            "and payees)",
            ("PSD2 art. 97(2)", "PSD2 RTS art. 5(1), 5(3)(b)"),
        )


def _one_time_codes(policy: Policy) -> Iterator[Finding]:
    """``[oob]`` and ``[cap]``: values the rules accept but that weaken the factor."""
    oob = policy.oob
    if oob.max_wrong > 5:
        yield Finding(
            Severity.WARNING,
            "oob-tries-over-5",
            "oob.max_wrong",
            f"a one-time code takes {oob.max_wrong} wrong tries: each one is a guess at a "
            f"{oob.digits}-digit code",
            ("PSD2 RTS art. 4(3)(b) (at most 5 failed attempts)",),
        )
    if oob.min_interval == timedelta(0) or oob.per_user > 10 or oob.per_destination > 10:
        yield Finding(
            Severity.WARNING,
            "oob-sends-loosely-throttled",
            "oob",
            "codes can be sent in bursts or more than 10 per window: SMS pumping (toll fraud) "
            "and message flooding of a user",
            ("NIST SP 800-63B-4 sec. 3.2.2 (rate limiting)", "ASVS 5 6.6.3"),
        )
    if oob.lifetime > timedelta(minutes=5):
        yield Finding(
            Severity.INFO,
            "oob-lifetime-over-5-minutes",
            "oob.lifetime",
            f"one-time codes live {oob.lifetime} (at most 10 minutes is allowed)",
            ("ASVS 5 6.5.4 (out-of-band codes: at most 10 minutes)",),
        )
    if policy.cap.window > 64:
        yield Finding(
            Severity.WARNING,
            "cap-window-wide",
            "cap.window",
            f"{policy.cap.window} counter values are searched past a card's last one: each "
            "candidate the revealed ATC bits admit is one more chance for a guessed code",
            ("docs/factors/cap.md (the ATC search window and the forgery odds)",),
        )


def lint(policy: Policy) -> tuple[Finding, ...]:
    """Every finding for ``policy``, errors first."""
    findings: list[Finding] = [
        *_renewal(policy),
        *_lockout(policy),
        *_session(policy),
        *_secrets(policy),
        *_one_time_codes(policy),
        *_methods("login.methods", policy.login.methods),
    ]
    if not any(m.phishing_resistant and m.strong for m in policy.login.method_objects):
        findings.append(
            Finding(
                Severity.WARNING,
                "no-phishing-resistant-option",
                "login.methods",
                "no phishing-resistant strong method (certificate, smartcard, passkey) is "
                "offered at login",
                ("NIST SP 800-63B-4 sec. 2 (AAL2 verifiers SHALL offer one)", "ASVS 5 6.3.3"),
            )
        )
    if policy.unlisted_operations is Unlisted.ALLOW:
        findings.append(
            Finding(
                Severity.WARNING,
                "unlisted-operations-allowed",
                "unlisted_operations",
                "operations the policy does not name are allowed: a misspelt operation "
                "name in a portal skips its step-up",
                ("ASVS 5 8.1.1",),
            )
        )
    for name in SEED_SENSITIVE_OPERATIONS:
        if policy.operation(name) is None:
            art13 = name == "payee_management" and (policy.unlisted_operations is Unlisted.ALLOW)
            findings.append(
                Finding(
                    Severity.ERROR if art13 else Severity.WARNING,
                    "seed-operation-missing",
                    f"operation.{name}",
                    f"the sensitive operation {name} is not in the policy",
                    ("Coop@ccess guide", "PSD2 RTS art. 13") if art13 else ("Coop@ccess guide",),
                )
            )
    for rule in policy.operations:
        findings.extend(_operation(rule))
    return tuple(sorted(findings, key=lambda f: _ORDER[f.severity]))
