"""The error a refused hit raises."""

from __future__ import annotations

import math
from typing import ClassVar

from securebox_auth.errors import SecureboxError

__all__ = ["RateLimited"]


class RateLimited(SecureboxError):
    """Too many requests for one named limit: answer 429 with ``Retry-After``.

    ``limit`` is the limit's name (``"login.source"``...), never its key: the message does not
    tell which address or account was counted, nor whether that account exists.
    ``retry_after`` is whole seconds (at least 1) until a hit can succeed again.
    The server's one rate-limit error (:mod:`securebox_server.throttle` re-exports it).
    """

    code: ClassVar[str] = "rate_limited"
    status_hint: ClassVar[int] = 429

    def __init__(self, limit: str = "limit", retry_after: float = 60) -> None:
        self.limit = limit
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"too many attempts: try again in {self.retry_after} seconds")
