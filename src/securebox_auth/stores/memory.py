"""An in-memory store: a reference implementation of the store Protocols.

Thread-safe (one lock around every commit), so concurrent logins in one process behave as
they would against a database. Used by tests, examples and the terminal demo.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from securebox_auth.audit import (
    GENESIS,
    GLOBAL,
    AuditEvent,
    SealedEvent,
    anchor_event,
    check_chain_name,
    seal,
    tenants_of,
)
from securebox_auth.audit_keys import AuditKeyring, store_keyring
from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.model import Subscription
from securebox_auth.errors import ConcurrentUpdate, MalformedInput
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import ClientId, Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.policy.session_ids import is_session_id, session_key
from securebox_auth.stores.factor_changes import decode_factor_state, encode_factor_state
from securebox_auth.stores.protocols import (
    Change,
    DropFactorState,
    EndSession,
    Expect,
    OpenSession,
    PutAccount,
    PutCode,
    PutFactorState,
    PutLockout,
    PutSession,
    PutSubscription,
    RotateSession,
    Standing,
    Versioned,
    check_session_transition,
)
from securebox_auth.stores.spent import Purged, spent

if TYPE_CHECKING:
    from securebox_auth.policy.session import Session

__all__ = ["MemoryStore"]

T = TypeVar("T")
K = TypeVar("K")


def _records(change: Change) -> list[tuple[str, object]]:
    """Which stored records a change reads or writes (a rotation: the old and the new)."""
    match change:
        case OpenSession(session_id=session_id):
            return [("session", session_key(session_id))]
        case RotateSession(session_id=session_id, new_session_id=new_id):
            return [("session", session_key(session_id)), ("session", session_key(new_id))]
        case EndSession(key=key):
            return [("session", key)]
    return [_record(change)]


def _record(change: Change) -> tuple[str, object]:
    match change:
        case PutAccount(principal, _, _):
            return ("account", principal)
        case PutCode(principal, _, _):
            return ("code", principal)
        case PutLockout(principal, _, _):
            return ("lockout", principal)
        case PutSubscription(client_id, _, _):
            return ("subscription", client_id)
        case PutSession(session_id, _, _):
            return ("session", session_key(session_id))
        case PutFactorState(principal, kind, item, _, _) | DropFactorState(
            principal, kind, item, _
        ):
            return ("factor", (principal, kind, item))
        case Expect(record, principal, _):
            return (record, principal)
    raise MalformedInput(f"unknown change {type(change).__name__}")  # pragma: no cover


class MemoryStore:
    def __init__(
        self, *, audit_key: bytes | None = None, audit_keys: AuditKeyring | None = None
    ) -> None:
        self._lock = threading.Lock()
        if audit_key is None and audit_keys is None:
            audit_key = secrets.token_bytes(32)
        #: The audit keys by id (ADR 0059); :attr:`audit_key` is the current one.
        self.audit_keys = store_keyring(audit_key, audit_keys)
        self.audit_key = self.audit_keys.keys[self.audit_keys.current]
        self._accounts: dict[Principal, Versioned[Account]] = {}
        self._codes: dict[Principal, Versioned[CodeCredential]] = {}
        self._lockouts: dict[Principal, Versioned[LockoutState]] = {}
        self._subscriptions: dict[ClientId, Versioned[Subscription]] = {}
        # Who is invited where (in any state), kept with every subscription written.
        self._invited: dict[Principal, set[ClientId]] = {}
        # Keyed by session_key(id), never the id itself. An ended (or rotated) session stays
        # as a tombstone (value None) so its id is never reused.
        self._sessions: dict[str, Versioned[Session | None]] = {}
        # Factor states as their JSON text (None: deleted, a tombstone like a session's), so
        # a caller can never alias a stored document and it comes back as a SQL store's does.
        self._factors: dict[tuple[Principal, str, str], Versioned[str | None]] = {}
        # The live items of each (principal, kind): the reads by principal touch only these,
        # not every state of every principal (spent flows and ceremonies pile up here, as
        # rows do in a SQL store until purged).
        self._live_items: dict[tuple[Principal, str], set[str]] = {}
        # One chain per tenant and the global one (ADR 0021), and every sealed event in
        # the order it was recorded (the view of audit_log() without a tenant).
        self._chains: dict[str, list[SealedEvent]] = {GLOBAL: []}
        self._anchored: dict[str, int] = {}
        self._audit: list[SealedEvent] = []

    def get_account(self, principal: Principal) -> Versioned[Account] | None:
        return self._accounts.get(principal)

    def get_code(self, principal: Principal) -> Versioned[CodeCredential] | None:
        return self._codes.get(principal)

    def get_lockout(self, principal: Principal) -> Versioned[LockoutState]:
        return self._lockouts.get(principal) or Versioned(LockoutState(), 0)

    def get_subscription(self, client_id: ClientId) -> Versioned[Subscription] | None:
        return self._subscriptions.get(client_id)

    def get_session(self, session_id: str) -> Versioned[Session] | None:
        if not is_session_id(session_id):
            return None
        found = self._sessions.get(session_key(session_id))
        if found is None or found.value is None:
            return None
        return Versioned(found.value, found.version)

    def sessions_of(self, principal: Principal) -> list[tuple[str, Versioned[Session]]]:
        with self._lock:
            found = [
                (key, Versioned(stored.value, stored.version))
                for key, stored in self._sessions.items()
                if stored.value is not None and stored.value.principal == principal
            ]
        return sorted(found, key=lambda item: (item[1].value.auth_time, item[0]))

    def get_factor_state(
        self, principal: Principal, kind: str, item: str
    ) -> Versioned[Mapping[str, object]] | None:
        found = self._factors.get((principal, kind, item))
        if found is None or found.value is None:
            return None
        return Versioned(decode_factor_state(found.value), found.version)

    def factor_states(
        self, principal: Principal, kind: str
    ) -> list[tuple[str, Versioned[Mapping[str, object]]]]:
        return self.factor_states_of(principal, (kind,))[kind]

    def factor_states_of(
        self, principal: Principal, kinds: Collection[str]
    ) -> dict[str, list[tuple[str, Versioned[Mapping[str, object]]]]]:
        with self._lock:
            found = {
                kind: [
                    (item, self._factors[(principal, kind, item)])
                    for item in sorted(self._live_items.get((principal, kind), ()))
                ]
                for kind in kinds
            }
        return {
            kind: [
                (item, Versioned(decode_factor_state(stored.value), stored.version))
                for item, stored in items
                if stored.value is not None
            ]
            for kind, items in found.items()
        }

    def accounts_of(self, client_id: ClientId) -> list[Account]:
        with self._lock:
            found = [v.value for p, v in self._accounts.items() if p.client_id == client_id]
        return sorted(found, key=lambda a: a.principal.user_number)

    def subscriptions_inviting(self, principal: Principal) -> list[Subscription]:
        with self._lock:
            hosts = sorted(self._invited.get(principal, ()), key=lambda c: c.value)
            return [self._subscriptions[c].value for c in hosts]

    def standing(
        self, principal: Principal, client_id: ClientId, *, inviting: bool = False
    ) -> Standing:
        others = (
            tuple(s for s in self.subscriptions_inviting(principal) if s.client_id != client_id)
            if inviting
            else ()
        )
        return Standing(self.get_account(principal), self.get_subscription(client_id), others)

    @staticmethod
    def _check(table: dict[K, Versioned[T]], key: K, expected: int) -> None:
        current = table.get(key)
        if (0 if current is None else current.version) != expected:
            raise ConcurrentUpdate("the stored state changed since it was read")

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        keys = [k for c in changes for k in _records(c)]
        if len(set(keys)) != len(keys):
            raise MalformedInput("a commit changes each record at most once")
        texts = {
            id(c): encode_factor_state(c.state)
            for c in changes
            if isinstance(c, PutFactorState) and c.state is not None
        }
        with self._lock:
            for change in changes:  # check everything before writing anything
                self._check_change(change)
            for change in changes:
                self._apply(change, texts)
            for event in events:
                for chain in tenants_of(event) or (GLOBAL,):
                    self._append(chain, event)

    def _append(self, chain: str, event: AuditEvent) -> SealedEvent:
        sealed = self._chains.setdefault(chain, [])
        head = seal(self.audit_keys, sealed[-1] if sealed else None, event, chain=chain)
        sealed.append(head)
        self._audit.append(head)
        return head

    def _check_change(self, change: Change) -> None:
        """Raise :class:`ConcurrentUpdate` unless ``change`` applies to what is stored."""
        match change:
            case PutAccount(principal, expected, _):
                self._check(self._accounts, principal, expected)
            case PutCode(principal, expected, _):
                self._check(self._codes, principal, expected)
            case PutLockout(principal, expected, _):
                self._check(self._lockouts, principal, expected)
            case PutSubscription(client_id, expected, _):
                self._check(self._subscriptions, client_id, expected)
            case OpenSession(session_id=session_id):
                self._check(self._sessions, session_key(session_id), 0)
            case PutSession(session_id, expected, session):
                self._check_session(session_key(session_id), expected, session, True)
            case RotateSession(session_id, expected, session, new_session_id=new_id):
                self._check_session(session_key(session_id), expected, session, False)
                self._check(self._sessions, session_key(new_id), 0)
            case EndSession(key, expected):
                self._check_session(key, expected, None, True)
            case PutFactorState(principal, kind, item, expected, _):
                self._check(self._factors, (principal, kind, item), expected)
            case DropFactorState(principal, kind, item, expected):
                self._check(self._factors, (principal, kind, item), expected)
                if self._factors[(principal, kind, item)].value is None:
                    raise ConcurrentUpdate("the stored state changed since it was read")
            case Expect("account", principal, expected):
                self._check(self._accounts, principal, expected)
            case Expect("code", principal, expected):
                self._check(self._codes, principal, expected)

    def _apply(self, change: Change, texts: Mapping[int, str]) -> None:
        match change:
            case PutAccount(principal, expected, account):
                self._accounts[principal] = Versioned(account, expected + 1)
            case PutCode(principal, expected, credential):
                self._codes[principal] = Versioned(credential, expected + 1)
            case PutLockout(principal, expected, state):
                self._lockouts[principal] = Versioned(state, expected + 1)
            case PutSubscription(client_id, expected, subscription):
                before = self._subscriptions.get(client_id)
                for invitation in before.value.invitations.values() if before else ():
                    self._invited[invitation.invitee].discard(client_id)
                for invitation in subscription.invitations.values():
                    self._invited.setdefault(invitation.invitee, set()).add(client_id)
                self._subscriptions[client_id] = Versioned(subscription, expected + 1)
            case OpenSession(session=session, session_id=session_id):
                self._sessions[session_key(session_id)] = Versioned(session, 1)
            case PutSession(session_id, expected, session):
                self._sessions[session_key(session_id)] = Versioned(session, expected + 1)
            case RotateSession(session_id, expected, session, new_session_id=new_id):
                self._sessions[session_key(session_id)] = Versioned(None, expected + 1)
                self._sessions[session_key(new_id)] = Versioned(session, 1)
            case EndSession(key, expected):
                self._sessions[key] = Versioned(None, expected + 1)
            case PutFactorState(principal, kind, item, expected, _):
                text = texts.get(id(change))
                self._factors[(principal, kind, item)] = Versioned(text, expected + 1)
                live = self._live_items.setdefault((principal, kind), set())
                if text is None:
                    live.discard(item)
                else:
                    live.add(item)
            case DropFactorState(principal, kind, item, _):
                del self._factors[(principal, kind, item)]
                self._live_items.get((principal, kind), set()).discard(item)

    def _check_session(
        self, key: str, expected: int, session: Session | None, in_place: bool
    ) -> None:
        """A transition of a live session: the version matches, and an in-place change keeps
        the authentication facts (a rotation keeps at least the principal)."""
        self._check(self._sessions, key, expected)
        stored = self._sessions[key].value
        if stored is None:
            raise ConcurrentUpdate("the session has ended")
        if session is not None:
            check_session_transition(stored, session, rotation=not in_place)

    def audit_log(self, tenant: str | None = None) -> Iterator[SealedEvent]:
        """The events of chain ``tenant`` (:data:`~securebox_auth.audit.GLOBAL`: the global
        chain), oldest first; without a tenant, every event of every chain in the order it
        was recorded (a view to read, not a chain to verify)."""
        with self._lock:
            if tenant is None:
                return iter(list(self._audit))
            return iter(list(self._chains.get(check_chain_name(tenant), ())))

    def audit_head(self, tenant: str = GLOBAL) -> tuple[int, str]:
        with self._lock:
            chain = self._chains.get(check_chain_name(tenant))
            if not chain:
                return 0, GENESIS
            return chain[-1].sequence, chain[-1].mac

    def audit_tenants(self) -> list[str]:
        """The tenants that have a chain, sorted."""
        with self._lock:
            return sorted(chain for chain, events in self._chains.items() if chain and events)

    def anchor(self, at: datetime) -> list[SealedEvent]:
        """Seal into the global chain the head of every tenant chain that moved since its
        last anchor; return the anchors sealed."""
        with self._lock:
            sealed = []
            for chain in sorted(c for c in self._chains if c):
                head = self._chains[chain][-1]
                if head.sequence > self._anchored.get(chain, 0):
                    event = anchor_event(at, chain, head.sequence, head.mac)
                    sealed.append(self._append(GLOBAL, event))
                    self._anchored[chain] = head.sequence
            return sealed

    # -- purge ----------------------------------------------------------------------------

    def purge_spent(
        self, *, now: datetime, idle_timeout: timedelta, keep: timedelta = timedelta(days=1)
    ) -> Purged:
        """Forget what a SQL store's :func:`~securebox_auth.stores.sql.purge.purge_spent`
        deletes, so that a long-lived memory store does not grow with every login: the
        one-time records :func:`~securebox_auth.stores.spent.spent` at ``now`` (tombstones of
        challenges, ceremonies and flows; expired ones; assertion ids and spent grants past
        their ``exp``), ended or rotated sessions (their identifiers are random: forgetting
        one accepts nothing), and sessions idle for more than ``max(keep, idle_timeout)``.
        Credentials, destinations, send logs and lockouts are never touched."""
        if keep < timedelta(0) or idle_timeout < timedelta(0):
            raise MalformedInput("purge: keep and idle_timeout >= 0")
        cutoff = now - max(keep, idle_timeout)
        with self._lock:
            sessions = [
                key
                for key, found in self._sessions.items()
                if found.value is None or found.value.last_activity < cutoff
            ]
            for key in sessions:
                del self._sessions[key]
            one_time = [
                key for key, found in self._factors.items() if spent(key[1], found.value, now)
            ]
            for principal, kind, item in one_time:
                del self._factors[(principal, kind, item)]
                live = self._live_items.get((principal, kind))
                if live is not None:
                    live.discard(item)
                    if not live:
                        del self._live_items[(principal, kind)]
        return Purged(len(sessions), len(one_time))
