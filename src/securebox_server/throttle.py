"""The rate-limit seam: routes call :meth:`RateLimits.hit` before verifying a secret.

The implementation (named moving-window limits over the database, the ``limits``
library) lives in ``securebox_server.rate_limits``; until it is plugged in, :class:`NoLimits`
lets everything through. A hit over the limit raises :class:`RateLimited`, which the error
handlers turn into a 429 page (or problem document) showing ``retry_after``.

Names used by the login pages: ``login.identify`` and ``login.code`` (keys ``ip:<address>``
and ``account:<client>:<user>`` for the claimed account).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from securebox_auth.errors import SecureboxError

__all__ = ["NoLimits", "RateLimited", "RateLimits"]


class RateLimited(SecureboxError):
    """Too many attempts for a named limit; ``retry_after`` seconds until the next one."""

    code: ClassVar[str] = "rate_limited"
    status_hint: ClassVar[int] = 429

    def __init__(
        self, message: str = "too many attempts: try again later", *, retry_after: int = 60
    ) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class RateLimits(Protocol):
    """Counts one attempt of limit ``name`` for ``key``; raises :class:`RateLimited`."""

    def hit(self, name: str, key: str) -> None: ...


class NoLimits:
    """The default: no limit (the library's lockout still applies)."""

    def hit(self, name: str, key: str) -> None:
        return None
