"""Where the keys of different purposes meet: the service constructors.

A service receives a store (whose audit chain is sealed with ``audit_key``), a code hasher
(whose pepper is a :class:`~securebox_auth.crypto.keys.KeyProvider`) and, for some factors, more
keys. :func:`check_service_keys` collects the ones it can see and refuses
(:class:`~securebox_auth.errors.KeyReuse`) two purposes sharing a key, so a configuration
that loads one secret into two places fails at start-up, not after a breach. Keys it cannot
see (a custom hasher without ``pepper``, a store without ``audit_key``, an issuer without
``key_check_values``) are not compared.
"""

from __future__ import annotations

from collections.abc import Mapping

from securebox_auth.crypto.keys import KeyCheckValues, KeySource, ensure_distinct_keys

__all__ = ["check_service_keys"]


def _audit_key(store: object) -> KeySource | None:
    keys = getattr(store, "audit_keys", None)  # every audit key id (ADR 0059)
    if isinstance(keys, KeyCheckValues):
        return keys
    key = getattr(store, "audit_key", None)
    return key if isinstance(key, bytes) else None


def _visible(source: object) -> KeySource | None:
    if source is None or isinstance(source, bytes | KeyCheckValues):
        return source
    if callable(getattr(source, "mac", None)) and isinstance(
        getattr(source, "current_key_id", None), str
    ):
        return source  # type: ignore[return-value]  # a KeyProvider, checked structurally
    return None


def check_service_keys(
    store: object, hasher: object | None, others: Mapping[str, object | None] | None = None
) -> None:
    """Refuse a service configuration in which two purposes share a key: the store's
    ``audit`` key, the hasher's ``pepper``, and ``others`` (purpose -> key source)."""
    purposes: dict[str, KeySource | None] = {
        "audit": _audit_key(store),
        "pepper": _visible(getattr(hasher, "pepper", None)),
    }
    for purpose, source in (others or {}).items():
        purposes[purpose] = _visible(source)
    ensure_distinct_keys(purposes)
