"""securebox_auth: strong customer authentication and entitlements for business portals.

The names below are the public API: a portal imports everything it needs from
``securebox_auth`` itself. Every other module is an implementation detail that may change in
any release, even when its name has no leading underscore (``docs/stability.md`` lists them).

The SQL stores need the ``sql`` extra (``pip install securebox[sql]``): ``SqlStore``,
``DatabaseSettings`` and ``create_engine`` are imported on first use, so ``import
securebox_auth`` works without SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# -- audit ---------------------------------------------------------------------------------
from securebox_auth.audit import AuditChainBroken, AuditEvent, SealedEvent, verify_chain
from securebox_auth.audit_keys import AuditKeyMissing, AuditKeyring
from securebox_auth.clock import Clock, FixedClock, SystemClock

# -- keys and hashing ----------------------------------------------------------------------
from securebox_auth.crypto.hashing import (
    PROFILE_2026,
    PROFILE_TESTING,
    Argon2CodeHasher,
    Argon2Parameters,
)
from securebox_auth.crypto.keys import KeyProvider, StaticKeyring
from securebox_auth.emv.profiles import CapMode

# -- values: identity, accounts, clock, methods -------------------------------------------
from securebox_auth.entitlements.accounts import Account, AccountStatus, Operator, Role

# -- entitlements --------------------------------------------------------------------------
from securebox_auth.entitlements.check import AccessDecision
from securebox_auth.entitlements.model import (
    Company,
    CompanyScope,
    DocumentScope,
    Invitation,
    InvitationStatus,
    Operation,
    Rights,
    Subscription,
    Theme,
)
from securebox_auth.entitlements.proofs import CompanyProofVerifier, KeyedCompanyProofs
from securebox_auth.entitlements.resources import (
    CompanyRef,
    DocumentRef,
    Resource,
    SubscriptionRef,
    UserRef,
)
from securebox_auth.entitlements.visibility import VisibilityFilter

# -- errors: one hierarchy under SecureboxError, each with a stable ``code`` ---------------
from securebox_auth.errors import (
    AccountExists,
    AttemptsBlocked,
    ChallengeNeeded,
    ConcurrentUpdate,
    ConfigurationError,
    FlowError,
    FlowExpired,
    FlowOutOfOrder,
    InvalidCode,
    InvalidIdentifier,
    InvalidSessionId,
    InvalidTime,
    MalformedInput,
    NotAuthenticated,
    NotPermitted,
    PolicyError,
    SecureboxError,
    StepUpNeeded,
    UnknownAccount,
    WeakCode,
    WrongProof,
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
from securebox_auth.factors.methods import AuthMethod, FactorCategory, get_method, is_strong
from securebox_auth.factors.oob import Channel, OobMessage
from securebox_auth.factors.totp import TotpEnrolment
from securebox_auth.factors.totp import code_at as totp_code_at

# -- the entry point and the flows ---------------------------------------------------------
from securebox_auth.flows import LoginFlow, LoginState, StepUpFlow, StepUpState
from securebox_auth.identity import ClientId, IdentifierFormat, Principal, Siren, UserNumber

# -- lockout -------------------------------------------------------------------------------
from securebox_auth.lockout.rules import BlockStatus, LockoutAlert, LockoutRules, LockoutState

# -- policy: loading, decisions, sessions, dynamic linking ---------------------------------
from securebox_auth.policy.book import PolicyBook
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
    complete_step_up,
    decide_login,
    decide_operation,
)
from securebox_auth.policy.linking import (
    Batch,
    Linking,
    Money,
    OperationRequest,
    Payment,
    normalise_payee,
)
from securebox_auth.policy.lint import Finding, Severity, lint
from securebox_auth.policy.loader import from_toml, load_policy, to_toml
from securebox_auth.policy.model import PSD2_DEFAULT, AcrLevels, Policy
from securebox_auth.policy.session import Grant, Proof, Session, open_session
from securebox_auth.policy.shipped import SHIPPED_POLICIES, shipped_policy
from securebox_auth.shell.answers import (
    Answer,
    CapAnswer,
    CertificateAnswer,
    CertificateSettings,
    CodeAnswer,
    OobAnswer,
    PasskeyAnswer,
    PresentedCertificateAnswer,
    RecoveryAnswer,
    TotpAnswer,
)

# -- the confidential code (the first factor) ----------------------------------------------
from securebox_auth.shell.code import ChangeResult, ConfidentialCodeService, LoginResult
from securebox_auth.shell.entitlements import EntitlementService, Target

# -- delivery of one-time codes (SMS and e-mail gateways for ``from_policy(gateways=...)``) ---
from securebox_auth.shell.gateways import (
    DeliveryFailed,
    DeliveryRefused,
    FileOutbox,
    Gateway,
    HttpSmsGateway,
    SmtpGateway,
)
from securebox_auth.shell.keys import DerivedKeys, MappedKeys, PurposeKeys
from securebox_auth.shell.login import LoginPage
from securebox_auth.shell.securebox import Securebox

# -- sessions in a store -------------------------------------------------------------------
from securebox_auth.shell.sessions import SessionService, StepUpResult
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.shell.step_up import StepUpPage
from securebox_auth.shell.token_verifier import AssertionVerifier

# -- stores --------------------------------------------------------------------------------
from securebox_auth.stores import AuthStore, MemoryStore, Versioned
from securebox_auth.tokens.assertions import TokenKeys, issue_assertion, verify_assertion

# -- assertions (JWT) and JWKS -------------------------------------------------------------
from securebox_auth.tokens.claims import (
    TokenAudience,
    TokenDenied,
    TokenError,
    TokenExpired,
    TokenInvalid,
    TokenReplayed,
    TokenRevoked,
    TokenSubject,
)
from securebox_auth.tokens.requirement import (
    AssertionGrant,
    AssertionRequirement,
    InsufficientAuthentication,
    VerifiedAssertion,
)

if TYPE_CHECKING:
    from securebox_auth.stores.sql import DatabaseSettings, SqlStore, create_engine

_SQL_NAMES = frozenset({"DatabaseSettings", "SqlStore", "create_engine"})


def __getattr__(name: str) -> Any:
    """The SQL stores, imported on first use (they need the ``sql`` extra)."""
    if name in _SQL_NAMES:
        from securebox_auth.stores import sql  # noqa: PLC0415 - optional dependency

        return getattr(sql, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# isort: split

__all__ = [
    "PROFILE_2026",
    "PROFILE_TESTING",
    "PSD2_DEFAULT",
    "SHIPPED_POLICIES",
    "AccessDecision",
    "Account",
    "AccountExists",
    "AccountStatus",
    "AcrLevels",
    "Allow",
    "Answer",
    "Argon2CodeHasher",
    "Argon2Parameters",
    "AssertionGrant",
    "AssertionRequirement",
    "AssertionVerifier",
    "AttemptsBlocked",
    "AuditChainBroken",
    "AuditEvent",
    "AuditKeyMissing",
    "AuditKeyring",
    "AuthMethod",
    "AuthStore",
    "Batch",
    "BlockStatus",
    "CapAnswer",
    "CapMode",
    "CertificateAnswer",
    "CertificateSettings",
    "Challenge",
    "ChallengeNeeded",
    "ChangeOutcome",
    "ChangeResult",
    "Channel",
    "ClientId",
    "Clock",
    "CodeAnswer",
    "CodeCredential",
    "CodeOutcome",
    "CodeRules",
    "Company",
    "CompanyProofVerifier",
    "CompanyRef",
    "CompanyScope",
    "ConcurrentUpdate",
    "ConfidentialCodeService",
    "ConfigurationError",
    "DatabaseSettings",
    "Decision",
    "DeliveryFailed",
    "DeliveryRefused",
    "Deny",
    "DerivedKeys",
    "DocumentRef",
    "DocumentScope",
    "EntitlementService",
    "FactorCategory",
    "FileOutbox",
    "Finding",
    "Fired",
    "FixedClock",
    "FlowError",
    "FlowExpired",
    "FlowOutOfOrder",
    "Gateway",
    "Grant",
    "HttpSmsGateway",
    "IdentifierFormat",
    "InsufficientAuthentication",
    "InvalidCode",
    "InvalidIdentifier",
    "InvalidSessionId",
    "InvalidTime",
    "Invitation",
    "InvitationStatus",
    "KeyProvider",
    "KeyedCompanyProofs",
    "Linking",
    "LockoutAlert",
    "LockoutRules",
    "LockoutState",
    "LoginFlow",
    "LoginOutcome",
    "LoginPage",
    "LoginResult",
    "LoginState",
    "MalformedInput",
    "MappedKeys",
    "MemoryStore",
    "Money",
    "NotAuthenticated",
    "NotPermitted",
    "OneTimeCode",
    "OobAnswer",
    "OobMessage",
    "Operation",
    "OperationOutcome",
    "OperationRequest",
    "Operator",
    "PasskeyAnswer",
    "Payment",
    "Policy",
    "PolicyBook",
    "PolicyError",
    "PresentedCertificateAnswer",
    "Principal",
    "Proof",
    "PurposeKeys",
    "Reason",
    "RecoveryAnswer",
    "Resource",
    "Rights",
    "Role",
    "SealedEvent",
    "Securebox",
    "SecureboxError",
    "Session",
    "SessionService",
    "Severity",
    "Siren",
    "SmtpGateway",
    "SqlStore",
    "StaticKeyring",
    "StepUpFlow",
    "StepUpNeeded",
    "StepUpPage",
    "StepUpRequired",
    "StepUpResult",
    "StepUpState",
    "Subscription",
    "SubscriptionRef",
    "SystemClock",
    "Target",
    "Theme",
    "TokenAudience",
    "TokenDenied",
    "TokenError",
    "TokenExpired",
    "TokenInvalid",
    "TokenKeys",
    "TokenReplayed",
    "TokenRevoked",
    "TokenSubject",
    "TotpAnswer",
    "TotpEnrolment",
    "UnknownAccount",
    "UserNumber",
    "UserRef",
    "VerifiedAssertion",
    "Versioned",
    "VisibilityFilter",
    "WeakCode",
    "WrongProof",
    "change_code",
    "complete_step_up",
    "create_engine",
    "decide_login",
    "decide_operation",
    "from_toml",
    "generate_code",
    "get_method",
    "is_strong",
    "issue_assertion",
    "issue_one_time_code",
    "lint",
    "load_policy",
    "normalise_payee",
    "open_session",
    "open_sql_store",
    "shipped_policy",
    "strength_problems",
    "to_toml",
    "totp_code_at",
    "verify_assertion",
    "verify_chain",
    "verify_code",
]
