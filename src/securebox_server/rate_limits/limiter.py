"""Named, layered rate limits configured as strings (``"5/5 minutes;20/hour;50/day"``).

Each named limit is one or more ``limits`` items checked with the moving-window strategy
over one storage (in production :class:`~securebox_server.rate_limits.storage.SqlRateLimitStorage`).
The server calls ``hit(name, key)``: it consumes one unit of every layer, or raises
:class:`~securebox_server.rate_limits.errors.RateLimited` with the seconds until the refusing
layer frees a unit. ``check`` refuses the same way without consuming (a failure budget is
checked before an attempt and consumed only when the attempt fails).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError as LimitsConfigurationError
from limits.strategies import MovingWindowRateLimiter

from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_server.rate_limits.errors import RateLimited
from securebox_server.rate_limits.storage import Layer, SqlRateLimitStorage

__all__ = ["DEFAULT_LIMITS", "MAX_KEY_LENGTH", "Limiter", "NamedLimit", "Use"]

#: The server's limits (see the table in ``docs/adr/0026-rate-limits.md``). Keys: a source
#: is :func:`securebox_server.net.client_address.source_key` (an IPv4 address or an IPv6
#: /64), an account is :func:`securebox_server.rate_limits.keys.account_key`.
DEFAULT_LIMITS: Final[Mapping[str, str]] = MappingProxyType(
    {
        # every login request (identification and each answer): a flood control sized to
        # the argon2id work of the hardware (ADR 0026: 2 requests a login, ~15-30 ms of CPU
        # a verification at PROFILE_2026, so ~4-8 cores); a short window keeps its rows few
        "login.global": "2000/10 seconds",
        "login.source": "30/5 minutes;300/day",
        "login.account": "20/5 minutes;100/day",
        # failed answers from a source that never logged this account in (see LoginLimits)
        "login.failure.source_account": "4/day;9/30 days",
        "login.failure.unknown_sources": "9/30 days",
        # a source that logged the account in (one entry, renewed at each success)
        "login.known_source": "1/90 days",
        # second-factor answers per account (Warehouse: 5/5 min, 20/h, 50/day)
        "second_factor.account": "5/5 minutes;20/hour;50/day",
        # one-time codes sent by SMS or e-mail
        "otp_send.account": "3/10 minutes;10/day",
        "otp_send.source": "10/10 minutes;50/day",
        # account recovery requests (Warehouse: password reset 5/day)
        "recovery.account": "5/day",
        "recovery.source": "20/day",
        # forgotten identifier (securebox_server.recovery): per source and per SIREN claimed
        "recovery.identifier.source": "10/hour;20/day",
        "recovery.identifier.account": "5/hour;10/day",
        # CAP codes answered in a card recovery (as second factors), per source and user
        "recovery.card.source": "10/5 minutes;50/day",
        "recovery.card.account": "5/5 minutes;20/day",
        # following a recovery link or reading a recovery flow, per source
        "recovery.link.source": "30/hour;100/day",
        # step-up pages (securebox_server.stepup), per source and per account: operations
        # entered, proofs answered (like second factors), confirmations
        "stepup.start": "30/5 minutes;300/day",
        "stepup.proof": "5/5 minutes;20/hour;50/day",
        # codes sent by SMS or e-mail for a step-up (as otp_send)
        "stepup.proof.send.account": "3/10 minutes;10/day",
        "stepup.proof.send.source": "10/10 minutes;50/day",
        "stepup.execute": "30/5 minutes;300/day",
        # the API clients' token endpoint (securebox_server.clients), per source and per
        # claimed client id (the same for a client that does not exist): a client asks for
        # a token every ten minutes, so a few a minute is ample
        "oauth.token.source": "60/minute;2000/day",
        "oauth.token.account": "20/minute;1000/day",
        # refused bearer tokens on the box's APIs, per source (a valid token is never
        # refused by it: the failures alone are counted, and only they answer 429)
        "api.bearer_failure.source": "60/minute;1000/day",
        # documents shared by e-mail (securebox_server.box.share_pages, ADR 0068): each
        # sends a copy out of the box, so a user sends a few a day, not a mailing
        "box.share.account": "10/hour;30/day",
        "box.share.source": "30/hour;100/day",
        # any other name a page passes to hit_limits without limits of its own
        "default.source": "60/5 minutes;600/day",
        "default.account": "30/5 minutes;300/day",
        # the box's APIs, per API client (senders publish in bulk; receivers poll) and per
        # user of the documents API (securebox_server.api.senders/receivers/documents)
        "api.sender": "1200/minute",
        # a sender's batches (up to 100 documents each, ADR 0060), besides api.sender
        "api.sender.batch": "600/minute",
        "api.receiver": "600/minute",
        "api.documents": "300/minute",
    }
)
MAX_KEY_LENGTH: Final = 512


@dataclass(frozen=True, slots=True)
class NamedLimit:
    """One named limit: its configuration string and the parsed layers."""

    name: str
    spec: str
    items: tuple[RateLimitItem, ...]

    @classmethod
    def parse(cls, name: str, spec: str) -> NamedLimit:
        if not name or len(name) > 100 or not name.replace(".", "").replace("_", "").isalnum():
            raise ConfigurationError(f"rate limit name {name!r} is not a dotted identifier")
        try:
            items = tuple(parse_many(spec))
        except (LimitsConfigurationError, ValueError):
            raise ConfigurationError(f"rate_limits.{name}: cannot parse {spec!r}") from None
        if not items or any(item.amount < 1 for item in items):
            raise ConfigurationError(f"rate_limits.{name}: at least one positive limit")
        return cls(name, spec, items)


#: A named limit applied to a key: ``(name, key)``.
Use = tuple[str, str]


class Limiter:
    """The named limits over one storage; ``hit(name, key)`` is the server's seam, and
    :meth:`apply` does a request's whole set of limits in one transaction."""

    def __init__(
        self, storage: SqlRateLimitStorage, limits: Mapping[str, str] = DEFAULT_LIMITS
    ) -> None:
        if not isinstance(storage, SqlRateLimitStorage):
            raise ConfigurationError("the rate-limit storage must be a SqlRateLimitStorage")
        self._storage = storage
        self._window = MovingWindowRateLimiter(storage)
        self._limits = {name: NamedLimit.parse(name, spec) for name, spec in limits.items()}

    @property
    def limits(self) -> Mapping[str, NamedLimit]:
        return MappingProxyType(self._limits)

    def _named(self, name: str, key: str) -> NamedLimit:
        limit = self._limits.get(name)
        if limit is None:
            raise ConfigurationError(f"no rate limit named {name!r}")
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
            raise MalformedInput("a rate-limit key is a non-empty string of at most 512 characters")
        return limit

    def _layers(
        self, uses: Sequence[Use], *, take: bool, conditional: bool = False
    ) -> list[tuple[str, Layer]]:
        layers = []
        for name, key in uses:
            limit = self._named(name, key)
            for item in limit.items:
                layer = Layer(
                    item.key_for(name, key), item.amount, item.get_expiry(), take, conditional
                )
                layers.append((name, layer))
        return layers

    def apply(
        self,
        hits: Sequence[Use] = (),
        *,
        checks: Sequence[Use] = (),
        forget: Sequence[Use] = (),
        unless: Use | None = None,
        unless_checks: Sequence[Use] = (),
        unless_hits: Sequence[Use] = (),
    ) -> bool:
        """In one transaction: forget every unit of the ``forget`` limits, test every layer
        of ``checks`` and ``hits``, and consume one unit of each layer of ``hits`` only if
        none refuses (all or nothing, across processes). ``unless_checks`` and
        ``unless_hits`` are checks and hits made only when the ``unless`` limit (a single
        layer) holds no live unit, decided in the same transaction; the result tells whether
        it held one. Raises :class:`RateLimited` for the first refusing limit (in the order
        checks, hits), with the seconds until its refusing layers free a unit; a refused call
        consumes nothing (``forget`` is undone too)."""
        layers = [
            *self._layers(unless_checks, take=False, conditional=True),
            *self._layers(checks, take=False),
            *self._layers(hits, take=True),
            *self._layers(unless_hits, take=True, conditional=True),
        ]
        gone = [layer.key for _, layer in self._layers(forget, take=False)]
        condition = None
        if unless is not None:
            condition = self._layers([unless], take=False)[0][1].key
        refused, present = self._storage.acquire_all(
            [layer for _, layer in layers], forget=gone, unless=condition
        )
        if refused:
            first = layers[min(refused)][0]
            resets = [at for index, at in refused.items() if layers[index][0] == first]
            raise RateLimited(first, max(resets) - self._storage.now())
        return present

    def hit(self, name: str, key: str) -> None:
        """Consume one unit of every layer of ``name`` for ``key``, or raise
        :class:`RateLimited` (a refused hit consumes nothing: see :meth:`apply`)."""
        self.apply([(name, key)])

    def record(self, name: str, key: str) -> bool:
        """Like :meth:`hit`, but tells instead of raising (for counting a failure that
        already happened)."""
        try:
            self.hit(name, key)
        except RateLimited:
            return False
        return True

    def check(self, name: str, key: str) -> None:
        """Raise :class:`RateLimited` if a hit would be refused now; consume nothing."""
        self.apply(checks=[(name, key)])

    def used(self, name: str, key: str) -> int:
        """Units used in the most used layer of ``name`` for ``key``."""
        limit = self._named(name, key)
        return max(
            item.amount - self._window.get_window_stats(item, name, key).remaining
            for item in limit.items
        )

    def clear(self, name: str, key: str) -> None:
        """Forget every unit of ``name`` for ``key``."""
        limit = self._named(name, key)
        for item in limit.items:
            self._window.clear(item, name, key)
