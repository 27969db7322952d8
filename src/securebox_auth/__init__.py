"""securebox_auth: strong customer authentication and entitlements for business portals.

The names below are the public API; everything else may change between minor versions
(see ``docs/stability.md``).
"""

from securebox_auth.accounts import Account, AccountStatus, Operator, Role
from securebox_auth.audit import AuditChainBroken, AuditEvent, SealedEvent, verify_chain
from securebox_auth.clock import Clock, FixedClock, SystemClock
from securebox_auth.code_service import ChangeResult, ConfidentialCodeService, LoginResult
from securebox_auth.errors import (
    AccountExists,
    ConcurrentUpdate,
    ConfigurationError,
    InvalidCode,
    InvalidIdentifier,
    InvalidTime,
    MalformedInput,
    NotPermitted,
    SecureboxError,
    UnknownAccount,
    WeakCode,
)
from securebox_auth.factors.code import (
    ChangeOutcome,
    CodeCredential,
    CodeOutcome,
    OneTimeCode,
    change_code,
    issue_one_time_code,
    verify_code,
)
from securebox_auth.factors.code_strength import CodeRules, generate_code, strength_problems
from securebox_auth.hashing import PROFILE_2026, PROFILE_TESTING, Argon2CodeHasher, Argon2Parameters
from securebox_auth.identity import ClientId, IdentifierFormat, Principal, Siren, UserNumber
from securebox_auth.keys import KeyProvider, StaticKeyring
from securebox_auth.lockout import BlockStatus, LockoutAlert, LockoutRules, LockoutState
from securebox_auth.stores import AuthStore, MemoryStore

# isort: split
# --- issue 12: flows and the entry point (i12-flows) ---------------------------------------
from securebox_auth.errors import FlowError, FlowExpired, FlowOutOfOrder
from securebox_auth.factors.oob import Channel, OobMessage
from securebox_auth.factors.totp import TotpEnrolment
from securebox_auth.factors.totp import code_at as totp_code_at
from securebox_auth.flows import LoginFlow, LoginState, StepUpFlow, StepUpState
from securebox_auth.policy.decision import Allow, Decision, Deny, StepUpRequired
from securebox_auth.policy.linking import Batch, Money, OperationRequest, Payment
from securebox_auth.policy.loader import load_policy
from securebox_auth.policy.model import Policy
from securebox_auth.shell.answers import (
    Answer,
    CapAnswer,
    CertificateAnswer,
    CertificateSettings,
    CodeAnswer,
    OobAnswer,
    PasskeyAnswer,
    RecoveryAnswer,
    TotpAnswer,
)
from securebox_auth.shell.keys import DerivedKeys, MappedKeys, PurposeKeys
from securebox_auth.shell.login import LoginPage
from securebox_auth.shell.securebox import Securebox
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.shell.step_up import StepUpPage
from securebox_auth.token_verifier import AssertionVerifier
from securebox_auth.tokens import TokenKeys

# --- end of issue 12 flows block -------------------------------------------------------------

__all__ = [  # noqa: RUF022 - the issue-12 flows block stays apart until the merge
    "PROFILE_2026",
    "PROFILE_TESTING",
    "Account",
    "AccountExists",
    "AccountStatus",
    "Argon2CodeHasher",
    "Argon2Parameters",
    "AuditChainBroken",
    "AuditEvent",
    "AuthStore",
    "BlockStatus",
    "ChangeOutcome",
    "ChangeResult",
    "ClientId",
    "Clock",
    "CodeCredential",
    "CodeOutcome",
    "CodeRules",
    "ConcurrentUpdate",
    "ConfidentialCodeService",
    "ConfigurationError",
    "FixedClock",
    "IdentifierFormat",
    "InvalidCode",
    "InvalidIdentifier",
    "InvalidTime",
    "KeyProvider",
    "LockoutAlert",
    "LockoutRules",
    "LockoutState",
    "LoginResult",
    "MalformedInput",
    "MemoryStore",
    "NotPermitted",
    "OneTimeCode",
    "Operator",
    "Principal",
    "Role",
    "SealedEvent",
    "SecureboxError",
    "Siren",
    "StaticKeyring",
    "SystemClock",
    "UnknownAccount",
    "UserNumber",
    "WeakCode",
    "change_code",
    "generate_code",
    "issue_one_time_code",
    "strength_problems",
    "verify_chain",
    "verify_code",
    # --- issue 12: flows and the entry point (i12-flows) ---
    "Allow",
    "Answer",
    "AssertionVerifier",
    "Batch",
    "CapAnswer",
    "CertificateAnswer",
    "CertificateSettings",
    "Channel",
    "CodeAnswer",
    "Decision",
    "Deny",
    "DerivedKeys",
    "FlowError",
    "FlowExpired",
    "FlowOutOfOrder",
    "LoginFlow",
    "LoginPage",
    "LoginState",
    "MappedKeys",
    "Money",
    "OobAnswer",
    "OobMessage",
    "OperationRequest",
    "PasskeyAnswer",
    "Payment",
    "Policy",
    "PurposeKeys",
    "RecoveryAnswer",
    "Securebox",
    "StepUpFlow",
    "StepUpPage",
    "StepUpRequired",
    "StepUpState",
    "TokenKeys",
    "TotpAnswer",
    "TotpEnrolment",
    "load_policy",
    "open_sql_store",
    "totp_code_at",
    # --- end of issue 12 flows block ---
]
