""":meth:`~securebox_auth.stores.sql.store.SqlStore.standing`: an actor's account, one
subscription and the subscriptions inviting the actor, in one statement.

An entitlement check or a visibility filter needs the three; read one by one they cost a
round trip each (about 60-100 µs on PostgreSQL, ADR 0022). The statement returns one row per
subscription, each with the account's columns, the subscription's current version, and its
document only for the requested subscription and only when its version is not the cached
one. An inviting subscription whose version is not cached is read by the store's
``get_subscription`` (a second statement: rare, after a change or on a cold cache).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from securebox_auth.entitlements.model import Subscription
from securebox_auth.identity import ClientId, Principal
from securebox_auth.stores.protocols import Standing, Versioned
from securebox_auth.stores.sql import codec
from securebox_auth.stores.sql.database import Database
from securebox_auth.stores.sql.subscription_cache import SubscriptionCache

__all__ = ["StandingReads"]

_SELECT: Final = (
    "SELECT a.role, a.status, a.created_at, a.version, s.client_id, s.version, s.digital, "
    "CASE WHEN s.client_id = ? AND s.version <> ? THEN s.state END "
    "FROM (SELECT 1 AS one) AS one "
    "LEFT JOIN accounts AS a ON a.client_id = ? AND a.user_number = ? "
)
_ONE: Final = "LEFT JOIN subscriptions AS s ON s.client_id = ?"
_INVITING: Final = (
    "LEFT JOIN subscriptions AS s ON s.client_id IN (SELECT ? UNION "
    "SELECT client_id FROM subscription_invitations "
    "WHERE invitee_client_id = ? AND invitee_user_number = ?) ORDER BY s.client_id"
)

Reread = Callable[[ClientId], Versioned[Subscription] | None]


class StandingReads:
    """The statement and the decoding of :meth:`SqlStore.standing`."""

    def __init__(self, db: Database, cache: SubscriptionCache) -> None:
        self._db = db
        self._cache = cache
        self._one = db.sql(_SELECT + _ONE)
        self._inviting = db.sql(_SELECT + _INVITING)

    def read(
        self, principal: Principal, client_id: ClientId, inviting: bool, reread: Reread
    ) -> Standing:
        key = client_id.value
        who = (principal.client_id.value, principal.user_number.value)
        params: tuple[Any, ...] = (key, self._cache.version(key), *who, key)
        if inviting:
            rows = self._db.fetch(self._inviting, (*params, *who))
        else:
            rows = self._db.fetch(self._one, params)
        first = rows[0]
        account = None
        if first[0] is not None:
            row = {
                "client_id": who[0],
                "user_number": who[1],
                "role": first[0],
                "status": first[1],
                "created_at": first[2],
            }
            account = Versioned(codec.account_from_row(row), int(first[3]))
        own: Versioned[Subscription] | None = None
        others: list[Subscription] = []
        for _, _, _, _, sub_id, version, digital, state in rows:
            if sub_id is None:
                continue
            if sub_id == key and state is not None:
                row = {"client_id": key, "digital": digital, "state": state}
                decoded = Versioned(codec.subscription_from_row(row), int(version))
                self._cache.put(key, decoded)
                found: Versioned[Subscription] | None = decoded
            else:
                found = self._cache.get(sub_id, int(version)) or reread(ClientId(sub_id))
            if sub_id == key:
                own = found
            elif found is not None:
                others.append(found.value)
        return Standing(account, own, tuple(others))
