"""The rate-limit seam: routes call ``hit_limits`` (:mod:`securebox_server.login.flow`),
which reaches :meth:`RateLimits.hit` before a secret is verified.

The server builds the real limits by default (:func:`securebox_server.limits_wiring.build_limits`:
the named moving-window limits of :mod:`securebox_server.rate_limits` over the database,
ADR 0026); :class:`NoLimits` lets everything through (settings
``rate_limits_enabled = false``, for tests only). A hit over a limit raises
:class:`RateLimited` (the one type, from :mod:`securebox_server.rate_limits.errors`), which
the error handlers turn into a 429 page or problem document saying "try again in ..." with
``Retry-After``.
"""

from __future__ import annotations

from typing import Protocol

from securebox_server.rate_limits.errors import RateLimited

__all__ = ["NoLimits", "RateLimited", "RateLimits"]


class RateLimits(Protocol):
    """Counts one attempt of limit ``name`` for ``key``; raises :class:`RateLimited`."""

    def hit(self, name: str, key: str) -> None: ...


class NoLimits:
    """No limit (the library's lockout still applies): tests only."""

    def hit(self, name: str, key: str) -> None:
        return None
