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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, Protocol, TypeVar

from securebox_auth.accounts import Account
from securebox_auth.audit import AuditEvent, SealedEvent
from securebox_auth.entitlements.model import Subscription
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import ClientId, Principal
from securebox_auth.lockout import LockoutState

if TYPE_CHECKING:  # the policy package is not needed to store or compare a session
    from securebox_auth.policy.session import Session

__all__ = [
    "AuthStore",
    "Change",
    "Expect",
    "PutAccount",
    "PutCode",
    "PutLockout",
    "PutSession",
    "PutSubscription",
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
class PutSession:
    """An authenticated session under its opaque identifier (chosen by the shell, random).

    Every transition of a session (activity, step-up proofs, a grant added, a single-use
    grant consumed) is a compare-and-swap of the whole session, so a grant consumed by one
    request can never be consumed by a concurrent one. ``session=None`` ends the session:
    it reads as absent afterwards, and its identifier can never be used again (a later
    change expecting version 0 conflicts). Ending a session that was never stored
    (``session=None`` with ``expected_version=0``) is refused with
    :class:`~securebox_auth.errors.MalformedInput`.
    """

    session_id: str
    expected_version: int
    session: Session | None


@dataclass(frozen=True, slots=True)
class Expect:
    """A guard that writes nothing: the commit applies only if the record still has this
    version (0: still absent). A login that read a credential commits with a guard on it, so
    it cannot succeed with a code an administrator regenerated in the meantime."""

    record: Literal["account", "code"]
    principal: Principal
    version: int


Change = PutAccount | PutCode | PutLockout | PutSubscription | PutSession | Expect


class AuthStore(Protocol):
    def get_account(self, principal: Principal) -> Versioned[Account] | None: ...

    def get_code(self, principal: Principal) -> Versioned[CodeCredential] | None: ...

    def get_lockout(self, principal: Principal) -> Versioned[LockoutState]:
        """The lockout state, ``Versioned(LockoutState(), 0)`` when none was stored."""
        ...

    def get_subscription(self, client_id: ClientId) -> Versioned[Subscription] | None: ...

    def get_session(self, session_id: str) -> Versioned[Session] | None:
        """A live session; ``None`` when it never existed or has ended."""
        ...

    def accounts_of(self, client_id: ClientId) -> list[Account]:
        """Every account of a subscription (active or not), ordered by user number."""
        ...

    def subscriptions_inviting(self, principal: Principal) -> list[Subscription]:
        """The subscriptions that hold an invitation (in any state) for ``principal``."""
        ...

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        """Apply every change and seal every event atomically, or raise
        :class:`~securebox_auth.errors.ConcurrentUpdate` and change nothing."""
        ...

    def audit_log(self) -> Iterator[SealedEvent]:
        """The sealed audit events, oldest first."""
        ...
