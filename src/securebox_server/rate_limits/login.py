"""The login's limits: who may try, and whose failures count against what budget.

The library's lockout (ADR 0008, shipped policy: 5 failures block for 15 minutes, the 4th
block is permanent, failures count until a success) is keyed by the claimed account, so on
its own anyone who knows a client identifier and user number can block that user for good
with 20 wrong codes. :class:`LoginLimits` puts the rate limits in front of it so that
failures from sources the account never logged in from are budgeted (see ADR 0026):

* every request (identification and each answer) hits ``login.global`` and
  ``login.source``, and, from an unknown source (below), ``login.account``;
* before any request (identification or answer), a source that never logged this account
  in (an *unknown* source) must have budget left in ``login.failure.source_account`` (per
  source and account) and ``login.failure.unknown_sources`` (all unknown sources of the
  account together); an answer's failure consumes both;
* a completed login (the flow ended with a session) from a source clears that pair's
  failures and the unknown sources' budget of the account (the lockout's series ended too),
  and makes the source *known* to the account for 90 days (``login.known_source``). A
  known source is bound only by the lockout itself: its failures are the user's own.

Sources are :func:`securebox_server.net.client_address.source_key` values (an IPv4 address,
or the /64 of an IPv6 address); accounts are :func:`~securebox_server.rate_limits.keys.account_key`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from securebox_server.rate_limits.errors import RateLimited
from securebox_server.rate_limits.keys import GLOBAL_KEY, pair_key
from securebox_server.rate_limits.limiter import Limiter, Use

__all__ = ["LoginLimits"]


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Calls to make around the library's ``start_login`` / ``answer_login``. Each is one
    transaction (:meth:`Limiter.apply`: whether the source is known is read in it);
    :meth:`after_failure` takes ``known`` from :meth:`before_answer` of the same request."""

    limiter: Limiter

    def is_known(self, source: str, account: str) -> bool:
        """Has ``source`` logged ``account`` in within ``login.known_source``'s window?"""
        return self.limiter.used("login.known_source", pair_key(source, account)) > 0

    def before_request(self, source: str, account: str, *extra: Use) -> bool:
        """Any login request for ``account`` from ``source`` (the identification too: a
        source without failure budget is refused before a flow is even stored); raises
        ``RateLimited``, else tells whether the source is known. The budgets are tested and
        the hits consumed in one transaction (all or nothing), and only unknown sources
        spend ``login.account``: nothing a stranger does refuses the user at an address
        they logged in from (but ``login.global``, which protects the server). ``extra``
        limits are hit in the same transaction."""
        pair = pair_key(source, account)
        return self.limiter.apply(
            [("login.global", GLOBAL_KEY), ("login.source", source), *extra],
            unless=("login.known_source", pair),
            unless_checks=[
                ("login.failure.source_account", pair),
                ("login.failure.unknown_sources", account),
            ],
            unless_hits=[("login.account", account)],
        )

    def before_answer(self, source: str, account: str) -> bool:
        """Before an answer is verified: the same as :meth:`before_request` (the failure
        budgets are checked, not consumed: :meth:`after_failure` consumes them)."""
        return self.before_request(source, account)

    def before_counted_answer(self, source: str, account: str, hits: Sequence[Use]) -> bool:
        """Before an answer verified outside the login that the account's lockout counts (a
        card recovery's CAP code): the page's own ``hits``, and for an unknown source the
        failure budgets checked (not consumed: :meth:`after_failure` does), in one
        transaction; tells whether the source is known. So a stranger's failures on such a
        page spend the same budgets as at login and cannot reach the block either."""
        pair = pair_key(source, account)
        return self.limiter.apply(
            hits,
            unless=("login.known_source", pair),
            unless_checks=[
                ("login.failure.source_account", pair),
                ("login.failure.unknown_sources", account),
            ],
        )

    def before_second_factor(self, source: str, account: str) -> bool:
        """Before a second-factor answer (the flow asks for one): :meth:`before_answer` and
        ``second_factor.account``, in the same transaction."""
        return self.before_request(source, account, ("second_factor.account", account))

    def after_failure(self, source: str, account: str, known: bool | None = None) -> None:
        """A verified answer was wrong: it consumes the failure budgets of an unknown source
        (each layer that still has room; a spent budget stays spent)."""
        if known is None:
            known = self.is_known(source, account)
        if known:
            return
        budgets = [
            ("login.failure.source_account", pair_key(source, account)),
            ("login.failure.unknown_sources", account),
        ]
        try:
            self.limiter.apply(budgets)  # both had room when the answer was let in
        except RateLimited:  # a racing failure spent one: consume what is left
            for name, key in budgets:
                self.limiter.record(name, key)

    def after_success(self, source: str, account: str) -> None:
        """A login completed (a session was issued): ``source`` becomes known to
        ``account``, and the failure budgets it and the unknown sources used are given back
        (the lockout's series ended too); one transaction."""
        pair = pair_key(source, account)
        self.limiter.apply(
            [("login.known_source", pair)],  # renewed for 90 days
            forget=[
                ("login.failure.source_account", pair),
                ("login.failure.unknown_sources", account),
                ("login.known_source", pair),
            ],
        )
