"""The renewal clock: the last strong authentication of a principal per channel, the
``last_sca`` of :func:`~securebox_auth.policy.engine.decide_login` (RTS art. 10)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Final, Unpack

from securebox_auth.audit import AuditEvent
from securebox_auth.entitlements.accounts import Account
from securebox_auth.identity import Principal
from securebox_auth.shell import records
from securebox_auth.shell.base import FactorShell, ShellOptions, Step
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.principal_reads import read_principal
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    PutFactorState,
    Versioned,
)

__all__ = ["RenewalClock"]

_WATERMARK: Final = (records.SESSIONS, "not_before")


class RenewalClock(FactorShell):
    """Reads and records the last strong authentication of each principal and channel."""

    def __init__(self, store: AuthStore, **options: Unpack[ShellOptions]) -> None:
        super().__init__(store, **options)

    def last_sca(self, principal: Principal, channel: str) -> datetime | None:
        """The last strong authentication of ``principal`` on ``channel`` (``None``: never)."""
        return self.read(principal, channel)[0]

    def read(
        self, principal: Principal, channel: str
    ) -> tuple[datetime | None, Callable[[datetime], Change], datetime | None]:
        """From one read of the clock: :meth:`last_sca`, what makes the :meth:`change` that
        records a strong authentication at a given instant (it conflicts if another login
        recorded one since this read), and when every session of ``principal`` was last
        ended (``None``: never), which a login flow begun before it may not outlive."""
        # The renewal record, the account and the end-all watermark together (one round
        # trip on PostgreSQL).
        wanted = [(fc.RENEWAL, channel), _WATERMARK]
        read = read_principal(self.store, principal, lockout=False, factors=wanted)
        found = read.factors[(fc.RENEWAL, channel)]
        last = self._last(found, read.account)
        ended = records.watermark_of(read.factors[_WATERMARK])
        return last, lambda at: _renewal(principal, channel, at, found), ended

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
