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

from dataclasses import dataclass

from securebox_server.rate_limits.keys import GLOBAL_KEY, pair_key
from securebox_server.rate_limits.limiter import Limiter

__all__ = ["LoginLimits"]


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Calls to make around the library's ``start_login`` / ``answer_login``."""

    limiter: Limiter

    def is_known(self, source: str, account: str) -> bool:
        """Has ``source`` logged ``account`` in within ``login.known_source``'s window?"""
        return self.limiter.used("login.known_source", pair_key(source, account)) > 0

    def before_request(self, source: str, account: str) -> None:
        """Any login request for ``account`` from ``source`` (the identification too: a
        source without failure budget is refused before a flow is even stored); raises
        ``RateLimited``. The budgets are checked before anything is consumed, and only
        unknown sources spend ``login.account``: nothing a stranger does refuses the user
        at an address they logged in from (but ``login.global``, which protects the server)."""
        known = self.is_known(source, account)
        if not known:
            self.limiter.check("login.failure.source_account", pair_key(source, account))
            self.limiter.check("login.failure.unknown_sources", account)
            self.limiter.check("login.account", account)
        self.limiter.hit("login.global", GLOBAL_KEY)
        self.limiter.hit("login.source", source)
        if not known:
            self.limiter.hit("login.account", account)

    def before_answer(self, source: str, account: str) -> None:
        """Before an answer is verified: the same as :meth:`before_request` (the failure
        budgets are checked, not consumed: :meth:`after_failure` consumes them)."""
        self.before_request(source, account)

    def before_second_factor(self, source: str, account: str) -> None:
        """Before a second-factor answer (the flow asks for one): :meth:`before_answer` and
        ``second_factor.account``."""
        self.before_answer(source, account)
        self.limiter.hit("second_factor.account", account)

    def after_failure(self, source: str, account: str) -> None:
        """A verified answer was wrong: it consumes the failure budgets of an unknown source."""
        if not self.is_known(source, account):
            self.limiter.record("login.failure.source_account", pair_key(source, account))
            self.limiter.record("login.failure.unknown_sources", account)

    def after_success(self, source: str, account: str) -> None:
        """A login completed (a session was issued): ``source`` becomes known to
        ``account``, and the failure budgets it and the unknown sources used are given back
        (the lockout's series ended too)."""
        pair = pair_key(source, account)
        self.limiter.clear("login.failure.source_account", pair)
        self.limiter.clear("login.failure.unknown_sources", account)
        self.limiter.clear("login.known_source", pair)  # renew the 90 days
        self.limiter.record("login.known_source", pair)
