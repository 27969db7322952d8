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

__all__ = [
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
]
