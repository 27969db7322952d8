"""A store that counts its commits (everything else goes to the real store it wraps), and
can run something just before the next commit: another request's commit in between a
step's read and its commit, to make the step lose its compare-and-swap race."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from securebox_auth.audit import AuditEvent
from securebox_auth.crypto.hashing import CodeHasher
from securebox_auth.identity import Principal
from securebox_auth.stores.protocols import AuthStore, Change

R = TypeVar("R")


#: The store's reads: one statement each on a SQL store (``get_subscription`` and
#: ``standing`` may need a second one after a change of the subscription; ``read_session``
#: reads a session and its principal's watermark in one).
READS = frozenset(
    {
        "get_account",
        "get_code",
        "get_lockout",
        "get_subscription",
        "get_session",
        "read_session",
        "get_factor_state",
        "factor_states",
        "factor_states_of",
        "accounts_of",
        "sessions_of",
        "subscriptions_inviting",
        "standing",
    }
)


class CountingStore:
    """``inner`` (a :class:`~securebox_auth.stores.memory.MemoryStore` or a
    :class:`~securebox_auth.stores.sql.store.SqlStore`), counting ``commit`` calls,
    successful or not, and reads (:data:`READS`, by name in :attr:`read_calls`)."""

    def __init__(self, inner: AuthStore) -> None:
        self.inner = inner
        self.commits = 0
        self.read_calls: Counter[str] = Counter()
        self._before: Callable[[], None] | None = None

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if name == "read_principal":
            return self._read_principal(found)
        if name not in READS:
            return found

        def read(*args: Any, **kwargs: Any) -> Any:
            self.read_calls[name] += 1
            return found(*args, **kwargs)

        return read

    def _read_principal(self, found: Callable[..., Any]) -> Callable[..., Any]:
        """The store's ``read_principal`` (several reads in one round trip), counted as the
        statements it sends, by the getter each stands for."""

        def read(
            principal: Principal,
            *,
            lockout: bool = True,
            code: bool = False,
            factors: Sequence[tuple[str, str]] = (),
        ) -> Any:
            self.read_calls["get_lockout"] += lockout
            self.read_calls["get_account"] += 1
            self.read_calls["get_code"] += code
            self.read_calls["get_factor_state"] += len(factors)
            return found(principal, lockout=lockout, code=code, factors=factors)

        return read

    @property
    def reads(self) -> int:
        return sum(self.read_calls.values())

    def counted_reads(self, call: Callable[[], R]) -> tuple[R, Counter[str]]:
        """What ``call()`` returns and the reads it made, by name."""
        before = Counter(self.read_calls)
        result = call()
        return result, self.read_calls - before

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        self.commits += 1
        before, self._before = self._before, None
        if before is not None:
            before()  # another request, committed first (its commits are counted too)
        self.inner.commit(changes, events)

    def before_next_commit(self, run: Callable[[], None]) -> None:
        self._before = run

    def counted(self, call: Callable[[], R]) -> tuple[R, int]:
        """What ``call()`` returns and the commits it made."""
        before = self.commits
        result = call()
        return result, self.commits - before

    def as_store(self) -> AuthStore:
        return cast(AuthStore, self)


class CountingHasher:
    """A code hasher counting its argon2 verifications."""

    def __init__(self, inner: CodeHasher) -> None:
        self.inner = inner
        self.verified = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def hash(self, principal: Principal, code: str) -> str:
        return self.inner.hash(principal, code)

    def verify(self, stored: str, principal: Principal, code: str) -> bool:
        self.verified += 1
        return self.inner.verify(stored, principal, code)

    def verify_dummy(self, principal: Principal, code: str) -> bool:
        self.verified += 1
        return self.inner.verify_dummy(principal, code)

    def needs_rehash(self, stored: str) -> bool:
        return self.inner.needs_rehash(stored)
