"""The reference server's public keys, fetched and cached.

The JWKS is fetched at the first verification, kept ``ttl`` (the server says
``Cache-Control: max-age=300``), and fetched again early when an assertion names a ``kid``
the cached set lacks (a key rotation): at most once per ``cooldown``, so a flood of forged
``kid`` values cannot turn this service into a client hammering the issuer. Fetching is
the only I/O here; the clock is injected.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from securebox_auth.clock import Clock
from securebox_auth.errors import ConfigurationError
from securebox_auth.tokens.assertions import TokenKeys

__all__ = ["JwksCache", "JwksUnavailable", "token_kid"]

_MAX_JWKS_BYTES = 64 * 1024


class JwksUnavailable(Exception):
    """The issuer's keys could not be fetched (network, status, content): answer 503."""


def token_kid(token: str) -> str | None:
    """The ``kid`` of a compact JWS's protected header, without verifying anything (to
    choose whether to refresh the keys); ``None`` when there is none or it is unreadable."""
    head = token.split(".", 1)[0]
    if not 0 < len(head) <= 1024:
        return None
    try:
        header: Any = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except ValueError:
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


@dataclass
class JwksCache:
    url: str
    clock: Clock
    ttl: timedelta = timedelta(minutes=5)
    cooldown: timedelta = timedelta(seconds=30)
    timeout: float = 5.0
    fetches: int = 0
    _keys: TokenKeys | None = field(default=None, repr=False)
    _fetched_at: datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def keys_for(self, token: str) -> TokenKeys:
        """The keys to verify ``token`` with: the cached set while fresh and knowing the
        token's ``kid``, else a new fetch (unknown ``kid``: at most once per cooldown)."""
        kid = token_kid(token)
        with self._lock:
            now = self.clock.now()
            keys, at = self._keys, self._fetched_at
            if keys is None or at is None:
                return self._fetch(now)
            known = kid in {str(k.kid) for k in keys.keys}
            stale = now - at >= self.ttl
            if not stale and (known or now - at < self.cooldown):
                return keys
            try:
                return self._fetch(now)
            except JwksUnavailable:
                if known:  # the issuer is unreachable: the key it signed with is still known
                    return keys
                raise

    def _fetch(self, now: datetime) -> TokenKeys:
        self.fetches += 1
        try:
            answer = httpx.get(self.url, timeout=self.timeout, follow_redirects=False)
        except httpx.HTTPError:
            raise JwksUnavailable("the issuer's keys could not be fetched") from None
        if answer.status_code != 200 or len(answer.content) > _MAX_JWKS_BYTES:
            raise JwksUnavailable(f"the issuer's keys: HTTP {answer.status_code}")
        try:
            keys = TokenKeys.from_jwks(answer.json())
        except (ValueError, ConfigurationError, KeyError, TypeError):
            raise JwksUnavailable("the issuer's key set is not a usable JWKS") from None
        self._keys, self._fetched_at = keys, now
        return keys
