"""One exception hierarchy for securebox.

Exceptions are for misuse, malformed input, configuration mistakes and lost races. An
*expected* authentication failure (a wrong code, a locked account) is not an exception: it is
a value returned by the verifier together with the next state, so that the failure counter is
always persisted (see ``docs/adr/0003-functional-core.md``).

Every class carries a stable machine-readable ``code`` and an HTTP status hint, so a server can
map errors to responses without the core importing a web framework. Messages never contain a
secret, and never say whether a client identifier or user number exists.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccountExists",
    "AmbiguousPayeeReference",
    "AttemptsBlocked",
    "ChallengeNeeded",
    "ConcurrentUpdate",
    "ConfigurationError",
    "DefinitionError",
    "EnvironmentUnavailable",
    "FlowError",
    "FlowExpired",
    "FlowOutOfOrder",
    "InvalidCode",
    "InvalidIdentifier",
    "InvalidSessionId",
    "InvalidTime",
    "KeyReuse",
    "MalformedInput",
    "NotAuthenticated",
    "NotFound",
    "NotPermitted",
    "PolicyError",
    "PrincipalUserExists",
    "ScenarioError",
    "SealedSecretInvalid",
    "SecureboxError",
    "StepUpNeeded",
    "StorageFull",
    "UnknownAccount",
    "UnknownDestination",
    "UnknownKey",
    "WeakCode",
    "WrongProof",
]


class SecureboxError(Exception):
    """Root of every error securebox raises on purpose."""

    code: ClassVar[str] = "securebox_error"
    status_hint: ClassVar[int] = 400


class ConfigurationError(SecureboxError, ValueError):
    """A policy, format or parameter set is invalid. Raised at load time, never per request."""

    code: ClassVar[str] = "configuration"
    status_hint: ClassVar[int] = 500


class PolicyError(ConfigurationError):
    """A policy file or object is invalid.

    ``path`` names the offending key in TOML dotted form, for instance
    ``"operation.payee_management.max_age"`` (empty when the whole document is at fault).
    """

    code: ClassVar[str] = "policy_invalid"

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class ScenarioError(ConfigurationError):
    """A policy scenario file is invalid (``path`` as in :class:`PolicyError`, for instance
    ``"step[3].methods"``)."""

    code: ClassVar[str] = "scenario_invalid"

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class UnknownKey(ConfigurationError):
    """A stored secret names a key id the key provider does not hold (a key removed from
    the keyring while data wrapped under it remained). Never says which secret."""

    code: ClassVar[str] = "unknown_key"


class KeyReuse(ConfigurationError):
    """Two keys configured for different purposes (code pepper, audit chain, secret
    wrapping, application MACs, ...) are the same bytes. ``purposes`` names the two."""

    code: ClassVar[str] = "key_reuse"

    def __init__(self, purposes: tuple[str, str]) -> None:
        super().__init__(f"the {purposes[0]} and {purposes[1]} keys must be different keys")
        self.purposes = purposes


class DefinitionError(ConfigurationError):
    """A CAP reader profile, cryptogram recipe or card template (a bank's definitions file
    or a registered object) is invalid, or its name is already taken by another definition
    (``path`` as in :class:`PolicyError`, for instance ``"profile.mybank.fixed.9A"``)."""

    code: ClassVar[str] = "emv_definition_invalid"

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class MalformedInput(SecureboxError, ValueError):
    """Input from outside does not have the expected shape."""

    code: ClassVar[str] = "malformed_input"
    status_hint: ClassVar[int] = 400


class SealedSecretInvalid(MalformedInput):
    """A wrapped secret failed authentication: it was altered, or copied from another
    principal's or factor's record (the associated data binds it to its place)."""

    code: ClassVar[str] = "sealed_secret_invalid"
    status_hint: ClassVar[int] = 500


class InvalidIdentifier(MalformedInput):
    """A client identifier, user number or SIREN does not match its format."""

    code: ClassVar[str] = "invalid_identifier"


class InvalidCode(MalformedInput):
    """A confidential code is not made of the right number of digits."""

    code: ClassVar[str] = "invalid_code"


class AmbiguousPayeeReference(SecureboxError, ValueError):
    """The digits a user would type into a CAP reader for a payee (its reader reference) are
    also those of another of the user's payees: a reader code could not tell them apart, so
    the operation is refused (or must use digest linking). ``others`` are the colliding
    payees, in canonical form; ``reference`` is not secret (it is printed on the screen)."""

    code: ClassVar[str] = "cap_reference_ambiguous"
    status_hint: ClassVar[int] = 409

    def __init__(self, payee: str, reference: str, others: tuple[str, ...]) -> None:
        super().__init__(
            f"the reader reference {reference} of {payee} is also that of "
            f"{len(others)} other payee(s) of this user"
        )
        self.payee = payee
        self.reference = reference
        self.others = others


class WeakCode(SecureboxError, ValueError):
    """A new confidential code was refused by the strength rules.

    ``reasons`` lists stable reason codes (for instance ``"repeated_digits"``); the message is
    readable by the user. Neither contains the code.
    """

    code: ClassVar[str] = "weak_code"
    status_hint: ClassVar[int] = 422

    def __init__(self, reasons: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.reasons = reasons


class InvalidTime(SecureboxError, ValueError):
    """A timestamp passed to the core is naive (no time zone) or otherwise unusable."""

    code: ClassVar[str] = "invalid_time"
    status_hint: ClassVar[int] = 500


class ConcurrentUpdate(SecureboxError):
    """A compare-and-swap lost a race: the stored state changed since it was read.

    The operation had no effect; callers retry from a fresh read or report a conflict.
    """

    code: ClassVar[str] = "conflict"
    status_hint: ClassVar[int] = 409


class UnknownAccount(SecureboxError, LookupError):
    """An administrative operation named an account that does not exist.

    Only raised on administrative paths, where the caller is already authenticated and
    entitled; login paths never raise it (they answer like a wrong code instead).
    """

    code: ClassVar[str] = "unknown_account"
    status_hint: ClassVar[int] = 404


class AccountExists(SecureboxError):
    """An account with this principal already exists."""

    code: ClassVar[str] = "account_exists"
    status_hint: ClassVar[int] = 409


class PrincipalUserExists(AccountExists):
    """The subscription already has its principal user: there is exactly one, made with the
    subscription (``create_subscription``/``open_subscription``), never by a later call."""

    code: ClassVar[str] = "principal_user_exists"


class NotAuthenticated(SecureboxError):
    """No live session: it never existed, ended, or timed out. Log in again."""

    code: ClassVar[str] = "not_authenticated"
    status_hint: ClassVar[int] = 401


class StepUpNeeded(SecureboxError):
    """The policy engine did not allow a sensitive operation with what the session proved.

    ``decision`` is the engine's :class:`~securebox_auth.policy.decision.StepUpRequired` (the
    methods to offer, the challenge to sign, ``www_authenticate()`` for APIs) or
    :class:`~securebox_auth.policy.decision.Deny`; ``decision.explain()`` says why.
    """

    code: ClassVar[str] = "step_up_required"
    status_hint: ClassVar[int] = 401

    def __init__(self, decision: object, message: str) -> None:
        super().__init__(message)
        self.decision = decision


class NotPermitted(SecureboxError):
    """The requested operation is not allowed in the current state (for instance, any
    operation other than changing the code while a code change is required)."""

    code: ClassVar[str] = "not_permitted"
    status_hint: ClassVar[int] = 403


class WrongProof(NotPermitted):
    """A guessable secret asked for by an operation (a company proof) did not match. The
    failure was counted against the actor before this was raised."""

    code: ClassVar[str] = "wrong_proof"


class UnknownDestination(NotPermitted):
    """A one-time code was asked for a destination that is not one of the principal's
    verified destinations on that channel. The message never says which exist."""

    code: ClassVar[str] = "unknown_destination"


class AttemptsBlocked(NotPermitted):
    """The actor is blocked after too many failed attempts: the secret was not checked and
    the attempt was not counted."""

    code: ClassVar[str] = "attempts_blocked"


class InvalidSessionId(MalformedInput):
    """A session identifier was supplied where the library generates them, or has not the
    format of a generated one (lookups answer "no such session" instead of raising)."""

    code: ClassVar[str] = "invalid_session_id"


class EnvironmentUnavailable(SecureboxError):
    """Something outside securebox that is needed now is missing or not running: the PC/SC
    service, a card reader, a terminal to ask a PIN on. The message says what to start,
    install or pass instead; the ``securebox`` command exits with status 2."""

    code: ClassVar[str] = "environment_unavailable"
    status_hint: ClassVar[int] = 503


class StorageFull(SecureboxError):
    """A write found no room: the filesystem holding the database or the document bodies is
    full (``ENOSPC``, a quota, SQLite's ``SQLITE_FULL``, PostgreSQL's ``disk_full``). The
    write had no effect (its transaction rolled back, no partial file is left); the same
    request succeeds once space is freed. A server answers ``507 Insufficient Storage``."""

    code: ClassVar[str] = "storage_full"
    status_hint: ClassVar[int] = 507


class NotFound(SecureboxError, LookupError):
    """A named local resource (a card record, a key file) does not exist. Not for accounts:
    a missing account is :class:`UnknownAccount`, whose message never says which part of a
    principal is unknown."""

    code: ClassVar[str] = "not_found"
    status_hint: ClassVar[int] = 404


class FlowError(SecureboxError):
    """A login or step-up flow (:mod:`securebox_auth.flows`) cannot take this event."""

    code: ClassVar[str] = "flow_error"
    status_hint: ClassVar[int] = 409


class FlowOutOfOrder(FlowError):
    """The event does not fit the flow's state (a second factor before the first, a factor
    after the flow finished, a proof of another digest). ``explain()`` of the flow says
    where it is."""

    code: ClassVar[str] = "flow_out_of_order"


class ChallengeNeeded(FlowOutOfOrder):
    """The answer must name the challenge the flow issued for it (a CAP Sign, TDS or
    Respond code in a step-up answers ``step_up_cap_challenge``): ask for one first."""

    code: ClassVar[str] = "challenge_needed"


class FlowExpired(FlowError):
    """The flow is past its expiry (or unknown, or finished): start again."""

    code: ClassVar[str] = "flow_expired"
    status_hint: ClassVar[int] = 401
