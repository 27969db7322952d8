"""A bounded memo of visibility filters, for the exact inputs they were computed from.

Building the filter of a user with partial rights in a large subscription means resolving
their rights against the portfolio (tens of companies) at every listing; the result depends
only on the account and the subscriptions, which a store returns as the same objects while
their versions are unchanged (ADR 0022).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.model import Operation, Subscription
from securebox_auth.entitlements.visibility import VisibilityFilter, visibility_filter
from securebox_auth.errors import ConfigurationError

__all__ = ["FILTERS_KEPT", "FilterMemo"]

#: Visibility filters kept by default (a filter is a few hundred bytes to a few kilobytes).
FILTERS_KEPT: Final = 4096

_Key = tuple[Account, Operation, tuple[int, ...]]
_Ref = weakref.ref[Subscription]


class FilterMemo:
    """A bounded, thread-safe LRU memo of :func:`visibility_filter`.

    An entry is used only for the same account (by value), the same action and the very
    same subscription objects (by identity: the entry holds weak references and checks them
    with ``is``, so a collected subscription whose id is reused never matches, and the memo
    keeps no superseded subscription alive). The filter does not depend on the time:
    the only time-dependent rule, a pending invitation's expiry, concerns invitations that
    grant nothing either way (``tests/entitlements/test_filter_memo.py`` holds it to that).
    ``size=0`` keeps nothing."""

    def __init__(self, size: int = FILTERS_KEPT) -> None:
        if not isinstance(size, int) or size < 0:
            raise ConfigurationError("the filter memo size is a number >= 0")
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[_Key, tuple[tuple[_Ref, ...], VisibilityFilter]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def filter(
        self, account: Account, subs: Sequence[Subscription], action: Operation, now: datetime
    ) -> VisibilityFilter:
        key = (account, action, tuple(id(s) for s in subs))
        with self._lock:
            found = self._entries.get(key)
            if found is not None and all(r() is s for r, s in zip(found[0], subs, strict=True)):
                self._entries.move_to_end(key)
                return found[1]
        computed = visibility_filter(account, subs, now, action)
        if self.size:
            with self._lock:
                self._entries[key] = (tuple(weakref.ref(s) for s in subs), computed)
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return computed

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
