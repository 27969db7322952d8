"""Key providers: where secret keys live, outside the database.

The core never reads a key from a file or an environment variable by itself: a key provider
is passed in. :class:`StaticKeyring` keeps keys in memory (loaded by the shell from a file, a
secret manager or the environment); an HSM or KMS implements the same Protocols.

Two operations are asked of a provider, never the keys themselves: :class:`KeyProvider`
computes MACs (pepper, keyed digests); :class:`WrappingKeys` encrypts and decrypts secrets
that must be read back (TOTP seeds) with authenticated encryption bound to associated data.
Keys for different purposes must be different keys: :func:`ensure_distinct_keys` compares
their *check values* (an HMAC of a fixed message), so it works without reading a key out of
an HSM. See ``docs/adr/0009-secrets-at-rest.md``.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from securebox_auth.errors import (
    ConfigurationError,
    KeyReuse,
    MalformedInput,
    SealedSecretInvalid,
    UnknownKey,
)

__all__ = [
    "KEY_CHECK_MESSAGE",
    "KeyCheckValues",
    "KeyProvider",
    "StaticKeyring",
    "WrappingKeys",
    "ensure_distinct_keys",
    "key_check_value",
    "valid_key_id",
]

_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
MIN_KEY_BYTES = 32
#: The message whose HMAC-SHA256 under a key is that key's check value.
KEY_CHECK_MESSAGE: Final = b"securebox/key-check/v1\x00"
_WRAP_INFO: Final = b"securebox/wrap/aes-256-gcm/v1"
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16


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


class WrappingKeys(Protocol):
    """Authenticated encryption of secrets that must be read back (a TOTP seed), by key id.

    ``wrap`` seals with the named key; ``unwrap`` opens, and the ``associated_data`` must be
    the same bytes (callers bind the owner and place of the secret there, so a sealed value
    copied to another row does not open). An HSM or KMS keeps the key inside and performs
    both operations (PKCS #11 ``C_Encrypt`` with ``CKM_AES_GCM``, a KMS ``Encrypt`` with an
    encryption context). ``unwrap`` raises :class:`~securebox_auth.errors.UnknownKey` for a
    key id it does not hold and :class:`~securebox_auth.errors.SealedSecretInvalid` when
    authentication fails.
    """

    @property
    def current_key_id(self) -> str: ...

    def wrap(self, key_id: str, plaintext: bytes, associated_data: bytes) -> bytes: ...

    def unwrap(self, key_id: str, sealed: bytes, associated_data: bytes) -> bytes: ...

    def key_check_values(self) -> Mapping[str, bytes]:
        """Key id -> :func:`key_check_value` of that key, for :func:`ensure_distinct_keys`."""
        ...


@runtime_checkable
class KeyCheckValues(Protocol):
    """A key holder that can tell the check value of each key it holds (all key ids, not
    only the current one)."""

    def key_check_values(self) -> Mapping[str, bytes]: ...


def key_check_value(key: bytes) -> bytes:
    """HMAC-SHA256 of :data:`KEY_CHECK_MESSAGE` under ``key``: equal for equal keys, and
    reveals nothing else about them. A :class:`KeyProvider` computes it with ``mac``."""
    return hmac.digest(key, KEY_CHECK_MESSAGE, "sha256")


KeySource = KeyProvider | WrappingKeys | KeyCheckValues | bytes


def _check_values(source: object) -> frozenset[bytes]:
    if isinstance(source, bytes):
        return frozenset({key_check_value(source)})
    if isinstance(source, KeyCheckValues):
        return frozenset(source.key_check_values().values())
    mac = getattr(source, "mac", None)
    current = getattr(source, "current_key_id", None)
    if callable(mac) and isinstance(current, str):
        value = mac(current, KEY_CHECK_MESSAGE)
        if isinstance(value, bytes):
            return frozenset({value})
    raise ConfigurationError(f"cannot compare keys of a {type(source).__name__}")


def ensure_distinct_keys(purposes: Mapping[str, KeySource | None]) -> None:
    """Refuse (:class:`~securebox_auth.errors.KeyReuse`) when two purposes share a key.

    ``purposes`` maps a purpose name (``"pepper"``, ``"audit"``, ``"wrapping"``...) to its
    key source: raw key bytes, a provider with ``key_check_values()`` (every key id is
    compared, rotated ones included), or a :class:`KeyProvider` (its current key, through
    ``mac``). ``None`` entries (a purpose not configured) are skipped. The same provider
    object given for two purposes is refused too.
    """
    seen: dict[bytes, str] = {}
    for purpose, source in purposes.items():
        if source is None:
            continue
        for value in sorted(_check_values(source)):
            other = seen.get(value)
            if other is not None and other != purpose:
                raise KeyReuse((other, purpose))
            seen[value] = purpose


@dataclass(frozen=True, slots=True)
class StaticKeyring:
    """Software keys held in memory. Keys never appear in ``repr``.

    It is a :class:`KeyProvider` (HMAC-SHA256) and :class:`WrappingKeys` (AES-256-GCM under
    a key derived from each key with HKDF-SHA256, 96-bit random nonces). Use one keyring per
    purpose: :func:`ensure_distinct_keys` refuses the same key for two.
    """

    keys: Mapping[str, bytes] = field(repr=False)
    current: str
    _aead: Mapping[str, AESGCM] = field(init=False, repr=False, compare=False)

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
        object.__setattr__(
            self,
            "_aead",
            MappingProxyType({k: AESGCM(_wrapping_key(v)) for k, v in self.keys.items()}),
        )

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

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self.keys)

    def mac(self, key_id: str, message: bytes) -> bytes:
        return hmac.digest(self.keys[key_id], message, "sha256")

    def key_check_values(self) -> Mapping[str, bytes]:
        return {key_id: key_check_value(key) for key_id, key in self.keys.items()}

    def _cipher(self, key_id: str) -> AESGCM:
        aead = self._aead.get(key_id)
        if aead is None:
            raise UnknownKey("a wrapped secret names a key this keyring does not hold")
        return aead

    def wrap(self, key_id: str, plaintext: bytes, associated_data: bytes) -> bytes:
        """``nonce (12 bytes) || ciphertext || tag (16 bytes)``."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._cipher(key_id).encrypt(nonce, plaintext, associated_data)

    def unwrap(self, key_id: str, sealed: bytes, associated_data: bytes) -> bytes:
        aead = self._cipher(key_id)
        if not isinstance(sealed, bytes) or len(sealed) < _NONCE_BYTES + _TAG_BYTES:
            raise MalformedInput("a wrapped secret is too short")
        try:
            return aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], associated_data)
        except InvalidTag:
            raise SealedSecretInvalid("a wrapped secret does not open here") from None

    def __repr__(self) -> str:
        return f"StaticKeyring(ids={sorted(self.keys)!r}, current={self.current!r})"


def _wrapping_key(key: bytes) -> bytes:
    """The AES-256 key used for wrapping, derived so that the same keyring's MACs and
    ciphertexts never use one key for two algorithms."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_WRAP_INFO).derive(key)
