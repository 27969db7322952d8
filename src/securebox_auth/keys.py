"""Key providers: where secret keys live, outside the database.

The core never reads a key from a file or an environment variable by itself: a key provider
is passed in. :class:`StaticKeyring` keeps keys in memory (loaded by the shell from a file, a
secret manager or the environment); an HSM or KMS implements the same Protocol.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from securebox_auth.errors import ConfigurationError

__all__ = ["KeyProvider", "StaticKeyring", "valid_key_id"]

_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
MIN_KEY_BYTES = 32


def valid_key_id(key_id: str) -> bool:
    return bool(_KEY_ID.fullmatch(key_id))


class KeyProvider(Protocol):
    """Symmetric keys by identifier, with one current key for new material.

    ``mac`` computes HMAC-SHA256 with the named key so that a provider backed by an HSM never
    has to hand the key itself to the application.
    """

    @property
    def current_key_id(self) -> str: ...

    def mac(self, key_id: str, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message`` under ``key_id``; ``KeyError`` if the key is unknown."""
        ...


@dataclass(frozen=True, slots=True)
class StaticKeyring:
    """Software keys held in memory. Keys never appear in ``repr``."""

    keys: Mapping[str, bytes] = field(repr=False)
    current: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigurationError("a keyring needs at least one key")
        for key_id, key in self.keys.items():
            if not valid_key_id(key_id):
                raise ConfigurationError(f"invalid key id {key_id!r}: use 1-32 of A-Z a-z 0-9 _ -")
            if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
                raise ConfigurationError(f"key {key_id!r} must be at least {MIN_KEY_BYTES} bytes")
        if self.current not in self.keys:
            raise ConfigurationError("the current key id is not in the keyring")
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @classmethod
    def generate(cls, key_id: str = "k1") -> StaticKeyring:
        """A keyring with one fresh random key (for demos and tests)."""
        return cls({key_id: secrets.token_bytes(MIN_KEY_BYTES)}, key_id)

    @classmethod
    def from_hex(cls, spec: str) -> StaticKeyring:
        """Parse ``"id1:hex,id2:hex"``; the first key is the current one.

        Used to load keys from an environment variable or a secret file.
        """
        keys: dict[str, bytes] = {}
        first = ""
        for item in spec.split(","):
            key_id, sep, hex_key = item.strip().partition(":")
            if not sep:
                raise ConfigurationError("a keyring entry is ID:HEX")
            try:
                keys[key_id] = bytes.fromhex(hex_key)
            except ValueError:
                raise ConfigurationError(f"key {key_id!r} is not hexadecimal") from None
            first = first or key_id
        return cls(keys, first)

    @property
    def current_key_id(self) -> str:
        return self.current

    def mac(self, key_id: str, message: bytes) -> bytes:
        import hmac  # noqa: PLC0415  (keeps module import light for Protocol users)

        return hmac.digest(self.keys[key_id], message, "sha256")

    def __repr__(self) -> str:
        return f"StaticKeyring(ids={sorted(self.keys)!r}, current={self.current!r})"
