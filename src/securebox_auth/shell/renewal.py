"""The renewal clock: the last strong authentication of a principal per channel, the
``last_sca`` of :func:`~securebox_auth.policy.engine.decide_login` (RTS art. 10)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Unpack

from securebox_auth.audit import AuditEvent
from securebox_auth.entitlements.accounts import Account
from securebox_auth.identity import Principal
from securebox_auth.shell.base import FactorShell, ShellOptions, Step
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.principal_reads import PrincipalReads, read_principal
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    PutFactorState,
    Versioned,
)

__all__ = ["RenewalClock"]


class RenewalClock(FactorShell):
    """Reads and records the last strong authentication of each principal and channel."""

    def __init__(self, store: AuthStore, **options: Unpack[ShellOptions]) -> None:
        super().__init__(store, **options)

    def last_sca(self, principal: Principal, channel: str) -> datetime | None:
        """The last strong authentication of ``principal`` on ``channel`` (``None``: never)."""
        return self.read(principal, channel)[0]

    def read(
        self, principal: Principal, channel: str
    ) -> tuple[datetime | None, Callable[[datetime], Change]]:
        """From one read of the clock: :meth:`last_sca`, and what makes the :meth:`change`
        that records a strong authentication at a given instant (it conflicts if another
        login recorded one since this read)."""
        # The renewal record and the account together (one round trip on PostgreSQL).
        wanted = [self.record_of(channel)]
        both = read_principal(self.store, principal, lockout=False, factors=wanted)
        return self.from_read(both, principal, channel)

    @staticmethod
    def record_of(channel: str) -> tuple[str, str]:
        """The factor-state record of the clock of ``channel``, for a caller that reads it
        with others (:func:`~securebox_auth.stores.principal_reads.read_principal`)."""
        return (fc.RENEWAL, channel)

    def from_read(
        self, read: PrincipalReads, principal: Principal, channel: str
    ) -> tuple[datetime | None, Callable[[datetime], Change]]:
        """:meth:`read`'s answer from a read that holds the account and :meth:`record_of`."""
        found = read.factors[self.record_of(channel)]
        last = self._last(found, read.account)
        return last, lambda at: _renewal(principal, channel, at, found)

    @staticmethod
    def _last(
        found: Versioned[Mapping[str, object]] | None, account: Versioned[Account] | None
    ) -> datetime | None:
        if found is None:
            return None
        at = fc.renewal_from_dict(found.value)
        if account is not None and at < account.value.created_at:
            # A strong authentication of a previous holder of this user number: the new
            # person has never authenticated strongly (first access, RTS art. 10(2)(a)).
            return None
        return at

    def change(self, principal: Principal, channel: str, at: datetime) -> Change:
        """The change that records a strong authentication at ``at``, to commit with the
        login's other changes (it conflicts if another login recorded one meanwhile)."""
        found = self.store.get_factor_state(principal, fc.RENEWAL, channel)
        return _renewal(principal, channel, at, found)

    def record(
        self, principal: Principal, channel: str, at: datetime, events: Sequence[AuditEvent] = ()
    ) -> None:
        """Record a strong authentication on its own (never moving the clock backwards)."""

        def attempt(_: datetime) -> Step[None]:
            found = self.store.get_factor_state(principal, fc.RENEWAL, channel)
            if found is not None and fc.renewal_from_dict(found.value) >= at:
                return [], (), None
            return [_renewal(principal, channel, at, found)], events, None

        self._run(attempt)


def _renewal(
    principal: Principal, channel: str, at: datetime, found: Versioned[Mapping[str, object]] | None
) -> Change:
    version = 0 if found is None else found.version
    return PutFactorState(principal, fc.RENEWAL, channel, version, fc.renewal_to_dict(at))
