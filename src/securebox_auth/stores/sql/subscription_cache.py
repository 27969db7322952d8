"""Decoded subscriptions kept per store object, checked against the database at every read.

A subscription (the entitlement aggregate) is one JSON document of up to tens of kilobytes;
decoding it was most of the cost of an entitlement check (ADR 0022). :class:`SubscriptionCache`
keeps the decoded value of the versions a store read, keyed by ``(client id, version)``:

* every read of the store still asks the database for the row's **current version**, in the
  same statement that returns the document when the version is not the cached one (see
  :data:`VERSIONED_READ`), so a change committed by another process or store object is seen
  by the very next read, as without the cache;
* a version names one content for the life of a row: every write is ``version = version +
  1`` under a compare-and-swap and no code path deletes a subscription; a store object must
  not outlive its database (a restored backup or an emptied table needs a new
  :class:`~securebox_auth.stores.sql.store.SqlStore`, or :meth:`SubscriptionCache.clear`);
* only the newest version read is kept per subscription, and at most ``size`` subscriptions
  (least recently used first out): the memory is bounded whatever the traffic.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Final

from securebox_auth.entitlements.model import Subscription
from securebox_auth.errors import ConfigurationError
from securebox_auth.stores.protocols import Versioned

__all__ = ["DEFAULT_SIZE", "NOT_CACHED", "SubscriptionCache"]

#: Subscriptions kept by default (a large one takes about 0.5 MB decoded).
DEFAULT_SIZE: Final = 256
#: The version asked for when nothing is cached (versions start at 1).
NOT_CACHED: Final = 0


class SubscriptionCache:
    """A bounded, thread-safe LRU map ``client id -> (version, decoded subscription)``.
    ``size=0`` keeps nothing (every read decodes)."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if not isinstance(size, int) or size < 0:
            raise ConfigurationError("the subscription cache size is a number >= 0")
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Versioned[Subscription]] = OrderedDict()
        #: Reads answered from the cache, and reads that decoded.
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def version(self, client_id: str) -> int:
        """The cached version of ``client_id`` (:data:`NOT_CACHED` when none)."""
        found = self._entries.get(client_id)
        return NOT_CACHED if found is None else found.version

    def get(self, client_id: str, version: int) -> Versioned[Subscription] | None:
        """The decoded subscription at exactly ``version``, if kept (and mark it used)."""
        with self._lock:
            found = self._entries.get(client_id)
            if found is None or found.version != version:
                self.misses += 1
                return None
            self._entries.move_to_end(client_id)
            self.hits += 1
            return found

    def put(self, client_id: str, found: Versioned[Subscription]) -> None:
        """Keep ``found`` (the newest version read wins; an older one never replaces it)."""
        if self.size == 0:
            return
        with self._lock:
            current = self._entries.get(client_id)
            if current is not None and current.version > found.version:
                return
            self._entries[client_id] = found
            self._entries.move_to_end(client_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
