"""Named, layered rate limits stored in the database (ADR 0026).

``Limiter.hit(name, key)`` is the seam the server calls; it raises :class:`RateLimited`
(code ``rate_limited``, status 429, ``retry_after`` seconds). :class:`SqlRateLimitStorage`
keeps the moving windows in the server's tables so they hold across worker processes on
SQLite and PostgreSQL; :class:`LoginLimits` budgets login failures so that no source can
drive a known account into the lockout's permanent block.
"""

from securebox_server.rate_limits.errors import RateLimited
from securebox_server.rate_limits.keys import GLOBAL_KEY, account_key, pair_key
from securebox_server.rate_limits.limiter import DEFAULT_LIMITS, Limiter, NamedLimit
from securebox_server.rate_limits.login import LoginLimits
from securebox_server.rate_limits.storage import SqlRateLimitStorage

__all__ = [
    "DEFAULT_LIMITS",
    "GLOBAL_KEY",
    "Limiter",
    "LoginLimits",
    "NamedLimit",
    "RateLimited",
    "SqlRateLimitStorage",
    "account_key",
    "pair_key",
]
