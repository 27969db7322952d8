"""The strong-authentication policy engine.

A frozen :class:`Policy` (TOML in and out) and pure decisions over it:

* :func:`decide_login`: the renewal rule, strong authentication at the first access and every
  N days per access channel (PSD2 RTS art. 10, Coop@ccess guide);
* :func:`decide_operation` and :func:`complete_step_up`: step-up per sensitive operation, with
  freshness, single-use grants and dynamic linking to amount and payee or batch (RTS arts. 4,
  5, 13);
* typed decisions (:class:`Allow`, :class:`StepUpRequired`, :class:`Deny`) that explain
  themselves and render as RFC 9470 challenges;
* :func:`lint` against PSD2 RTS, NIST SP 800-63B-4 and OWASP ASVS 5, and scenario files that
  security teams write to test a policy (:func:`parse_scenario`, :func:`run_scenario`).

See ``docs/policy.md``.
"""

from securebox_auth.policy.decision import (
    Allow,
    Challenge,
    Decision,
    Deny,
    Fired,
    Reason,
    StepUpRequired,
)
from securebox_auth.policy.engine import (
    LoginOutcome,
    OperationOutcome,
    OperationRequest,
    complete_step_up,
    decide_login,
    decide_operation,
)
from securebox_auth.policy.linking import (
    Batch,
    Money,
    Payment,
    batch_digest,
    normalise_payee,
    payee_digest,
    payment_digest,
)
from securebox_auth.policy.lint import Finding, Severity, lint
from securebox_auth.policy.loader import from_toml, load_policy, to_toml
from securebox_auth.policy.model import (
    PSD2_DEFAULT,
    AcrLevels,
    Linking,
    LoginRules,
    OperationRule,
    Policy,
    RecoveryRules,
    Renewal,
    RenewalRule,
    SessionRules,
    Unlisted,
)
from securebox_auth.policy.runner import ScenarioResult, StepResult, run_scenario
from securebox_auth.policy.scenario import Scenario, load_scenario, parse_scenario
from securebox_auth.policy.session import Grant, Proof, Session, open_session

__all__ = [
    "PSD2_DEFAULT",
    "AcrLevels",
    "Allow",
    "Batch",
    "Challenge",
    "Decision",
    "Deny",
    "Finding",
    "Fired",
    "Grant",
    "Linking",
    "LoginOutcome",
    "LoginRules",
    "Money",
    "OperationOutcome",
    "OperationRequest",
    "OperationRule",
    "Payment",
    "Policy",
    "Proof",
    "Reason",
    "RecoveryRules",
    "Renewal",
    "RenewalRule",
    "Scenario",
    "ScenarioResult",
    "Session",
    "SessionRules",
    "Severity",
    "StepResult",
    "StepUpRequired",
    "Unlisted",
    "batch_digest",
    "complete_step_up",
    "decide_login",
    "decide_operation",
    "from_toml",
    "lint",
    "load_policy",
    "load_scenario",
    "normalise_payee",
    "open_session",
    "parse_scenario",
    "payee_digest",
    "payment_digest",
    "run_scenario",
    "to_toml",
]
