"""What a store must do for the core's shell.

Reads return values with a **version**; writes are a single atomic :meth:`AuthStore.commit`
of several compare-and-swap changes plus the audit events that describe them: either every
change applies and every event is sealed into the audit chain, or nothing happens and
:class:`~securebox_auth.errors.ConcurrentUpdate` is raised. A SQL store implements it as one
transaction of ``UPDATE ... WHERE version = :expected`` statements.

Version ``0`` means "absent": a change expecting version 0 inserts, and fails if a row exists.

Adding a kind of state means: a ``Put*`` change here (key, expected version, value), a getter
on :class:`AuthStore`, a branch in :class:`~securebox_auth.stores.memory.MemoryStore`, and a
table, codec and migration in :mod:`securebox_auth.stores.sql`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

from securebox_auth.audit import GLOBAL, AuditEvent, SealedEvent
from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.model import Subscription
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import ClientId, Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.session_ids import new_session_id, require_session_id
from securebox_auth.stores.factor_changes import (
    DropFactorState,
    PutFactorState,
)

if TYPE_CHECKING:  # the policy package is not needed to store or compare a session
    from securebox_auth.policy.session import Session

__all__ = [
    "AuthStore",
    "Change",
    "DropFactorState",
    "EndSession",
    "Expect",
    "OpenSession",
    "PutAccount",
    "PutCode",
    "PutFactorState",
    "PutLockout",
    "PutSession",
    "PutSubscription",
    "RotateSession",
    "Standing",
    "Versioned",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Versioned(Generic[T]):
    value: T
    version: int


@dataclass(frozen=True, slots=True)
class PutAccount:
    principal: Principal
    expected_version: int
    account: Account


@dataclass(frozen=True, slots=True)
class PutCode:
    principal: Principal
    expected_version: int
    credential: CodeCredential


@dataclass(frozen=True, slots=True)
class PutLockout:
    """Lockout state is keyed by the *claimed* principal, whether or not an account exists,
    so that unknown principals behave exactly like known ones."""

    principal: Principal
    expected_version: int
    state: LockoutState


@dataclass(frozen=True, slots=True)
class PutSubscription:
    """The entitlement aggregate of one subscription (companies, themes, rights,
    invitations), replaced as a whole under its version."""

    client_id: ClientId
    expected_version: int
    subscription: Subscription


@dataclass(frozen=True, slots=True)
class OpenSession:
    """Store a new session under an identifier the library draws: a caller cannot choose it
    (there is no parameter for it). Read it from :attr:`session_id` after the commit and
    hand it to the user agent; the store keeps only its digest
    (:func:`~securebox_auth.policy.session_ids.session_key`)."""

    session: Session
    session_id: str = field(init=False, repr=False, default_factory=new_session_id)

    def __post_init__(self) -> None:
        if self.session is None:
            raise MalformedInput("OpenSession stores a session")


@dataclass(frozen=True, slots=True)
class PutSession:
    """A transition of a stored session that keeps its authentication level.

    Every transition (activity, a grant added, a single-use grant consumed) is a
    compare-and-swap of the whole session, so a grant consumed by one request can never be
    consumed by a concurrent one. Such a change may not alter who, where or what was proven
    (principal, channel, ``auth_time``, proofs): a store refuses it with
    :class:`~securebox_auth.errors.MalformedInput`, because a change of authentication level
    must give the session a new identifier (:class:`RotateSession`). ``session=None`` ends
    the session: it reads as absent afterwards, and its identifier can never be used again.

    A session is created only by :class:`OpenSession`: ``expected_version=0`` is refused, and
    so is an identifier without the format of a generated one
    (:class:`~securebox_auth.errors.InvalidSessionId`).
    """

    session_id: str = field(repr=False)
    expected_version: int
    session: Session | None

    def __post_init__(self) -> None:
        require_session_id(self.session_id)
        if self.expected_version == 0:
            raise MalformedInput(
                "a session is created with OpenSession, which draws its identifier"
            )


@dataclass(frozen=True, slots=True)
class RotateSession:
    """Give a stored session a new identifier, atomically: the session read at
    ``expected_version`` under ``session_id`` ends (its identifier can never be used again)
    and ``session`` is stored under :attr:`new_session_id`, drawn by the library, in the
    same commit. Of concurrent rotations of one session exactly one commits; the others
    raise :class:`~securebox_auth.errors.ConcurrentUpdate`.

    ``session`` is the rotated session, usually with more proofs (a step-up); it must belong
    to the same principal, on the same channel, with the same ``auth_time``.
    """

    session_id: str = field(repr=False)
    expected_version: int
    session: Session
    new_session_id: str = field(init=False, repr=False, default_factory=new_session_id)

    def __post_init__(self) -> None:
        require_session_id(self.session_id)
        if self.expected_version < 1:
            raise MalformedInput("only a stored session can be rotated")
        if self.session is None:
            raise MalformedInput("RotateSession stores the rotated session")


@dataclass(frozen=True, slots=True)
class EndSession:
    """End a stored session named by its stored key (as :meth:`AuthStore.sessions_of` lists
    it: :func:`~securebox_auth.policy.session_ids.session_key` of the identifier), read at
    ``expected_version``; it reads as absent afterwards. This is how a user's other sessions
    are ended ("log out everywhere", a removed user, a changed factor) without their
    identifiers, which the store never keeps."""

    key: str
    expected_version: int

    def __post_init__(self) -> None:
        if not (
            isinstance(self.key, str)
            and len(self.key) == 64
            and all(c in "0123456789abcdef" for c in self.key)
        ):
            raise MalformedInput("a stored session key is 64 lower-case hexadecimal digits")
        if not isinstance(self.expected_version, int) or self.expected_version < 1:
            raise MalformedInput("only a stored session can be ended")


def check_session_transition(before: Session, after: Session, *, rotation: bool) -> None:
    """What every store enforces on a live session: an in-place :class:`PutSession` keeps
    the principal, channel, ``auth_time`` and proofs (a change of authentication level needs
    a new identifier); a :class:`RotateSession` keeps the principal, channel and
    ``auth_time`` (a rotation never hands a session to someone else). Raises
    :class:`~securebox_auth.errors.MalformedInput` otherwise."""
    same = (
        before.principal == after.principal
        and before.channel == after.channel
        and before.auth_time == after.auth_time
    )
    if rotation and not same:
        raise MalformedInput("a rotated session keeps its principal, channel and login time")
    if not rotation and not (same and before.proofs == after.proofs):
        raise MalformedInput(
            "a change of a session's principal, channel, login time or proofs needs a new "
            "identifier: use RotateSession"
        )


@dataclass(frozen=True, slots=True)
class Expect:
    """A guard that writes nothing: the commit applies only if the record still has this
    version (0: still absent). A login that read a credential commits with a guard on it, so
    it cannot succeed with a code an administrator regenerated in the meantime."""

    record: Literal["account", "code"]
    principal: Principal
    version: int


Change = (
    PutAccount
    | PutCode
    | PutLockout
    | PutSubscription
    | OpenSession
    | PutSession
    | RotateSession
    | EndSession
    | PutFactorState
    | DropFactorState
    | Expect
)


@dataclass(frozen=True, slots=True)
class Standing:
    """What an entitlement decision reads about an actor (:meth:`AuthStore.standing`): their
    account, one subscription, and (when asked) the other subscriptions that invite them."""

    account: Versioned[Account] | None
    subscription: Versioned[Subscription] | None
    inviting: tuple[Subscription, ...] = ()


class AuthStore(Protocol):
    def get_account(self, principal: Principal) -> Versioned[Account] | None: ...

    def get_code(self, principal: Principal) -> Versioned[CodeCredential] | None: ...

    def get_lockout(self, principal: Principal) -> Versioned[LockoutState]:
        """The lockout state, ``Versioned(LockoutState(), 0)`` when none was stored."""
        ...

    def get_subscription(self, client_id: ClientId) -> Versioned[Subscription] | None: ...

    def get_session(self, session_id: str) -> Versioned[Session] | None:
        """A live session; ``None`` when it never existed, has ended or was rotated, and for
        any value that is not a generated identifier (never an exception)."""
        ...

    def get_factor_state(
        self, principal: Principal, kind: str, item: str
    ) -> Versioned[Mapping[str, object]] | None:
        """A stored factor state; ``None`` when it never existed or was deleted."""
        ...

    def factor_states(
        self, principal: Principal, kind: str
    ) -> list[tuple[str, Versioned[Mapping[str, object]]]]:
        """Every live item of one factor kind of a principal, ordered by item (code points)."""
        ...

    def factor_states_of(
        self, principal: Principal, kinds: Collection[str]
    ) -> dict[str, list[tuple[str, Versioned[Mapping[str, object]]]]]:
        """:meth:`factor_states` of several kinds at once (one statement on a SQL store):
        each kind of ``kinds`` maps to its live items, ordered by item (an empty list when
        it has none)."""
        ...

    def accounts_of(self, client_id: ClientId) -> list[Account]:
        """Every account of a subscription (active or not), ordered by user number."""
        ...

    def sessions_of(self, principal: Principal) -> list[tuple[str, Versioned[Session]]]:
        """Every live session of a principal with its stored key (never its identifier),
        oldest login first; end one with :class:`EndSession`."""
        ...

    def subscriptions_inviting(self, principal: Principal) -> list[Subscription]:
        """The subscriptions that hold an invitation (in any state) for ``principal``."""
        ...

    def standing(
        self, principal: Principal, client_id: ClientId, *, inviting: bool = False
    ) -> Standing:
        """``principal``'s account and the subscription ``client_id`` (and, with
        ``inviting``, the subscriptions other than ``client_id`` that invite ``principal``,
        ordered by client id), each at its current version: what
        :meth:`get_account`, :meth:`get_subscription` and :meth:`subscriptions_inviting`
        answer, in one statement on a SQL store."""
        ...

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        """Apply every change and seal every event atomically, or raise
        :class:`~securebox_auth.errors.ConcurrentUpdate` and change nothing."""
        ...

    def audit_log(self, tenant: str | None = None) -> Iterator[SealedEvent]:
        """The sealed events of chain ``tenant`` (a client identifier, or
        :data:`~securebox_auth.audit.GLOBAL`), oldest first; without a tenant, every event
        of every chain in the order recorded (to read; verify chain by chain, ADR 0021)."""
        ...

    def audit_head(self, tenant: str = GLOBAL) -> tuple[int, str]:
        """``(sequence, mac)`` of the last event of chain ``tenant`` (``(0, GENESIS)`` when
        none): what an external checkpoint (:mod:`securebox_auth.shell.audit_checkpoint`)
        records."""
        ...

    def audit_tenants(self) -> list[str]:
        """The subscriptions that have an audit chain, sorted."""
        ...

    def anchor(self, at: datetime) -> list[SealedEvent]:
        """Seal into the global chain the head of every tenant chain that moved since its
        last anchor; return the anchors sealed."""
        ...
