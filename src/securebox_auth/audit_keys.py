"""The keys of the audit chains by key id, so that a rotation keeps the trail verifiable
(ADR 0059).

Each sealed event names the key id it was sealed under (:attr:`SealedEvent.key_id
<securebox_auth.audit.SealedEvent.key_id>`) and its MAC covers that id. An
:class:`AuditKeyring` holds the audit keys by id, **newest first**: the first is the
current key, new events are sealed under it; the others verify the events sealed before.
The order is also the age of the keys: in one chain, an event under an id never follows an
event under a newer one (:meth:`AuditKeyring.rank`), so whoever holds only a retired key
cannot append events that verify after the chain moved on.

The empty id :data:`NO_KEY_ID` marks an event sealed before key ids existed (its MAC has
the form of before, without an id). Such events are the oldest of all; a keyring verifies
them under its :attr:`~AuditKeyring.legacy` key: by default its oldest id (the key that
was current when the database was upgraded, as long as nothing older was kept). A single
raw key (``SqlStore(engine, audit_key=bytes)``) is a keyring of that one unnamed key: it
seals and verifies events without an id, exactly as before.

A key id the keyring does not hold (a key removed from it, or an id written by someone)
makes verification fail with :class:`AuditKeyMissing`, naming the id: the events under it
can no longer be checked, which is not the same finding as a broken chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, Final

from securebox_auth.crypto.keys import key_check_value
from securebox_auth.errors import ConfigurationError, SecureboxError

__all__ = [
    "NO_KEY_ID",
    "AuditKeyMissing",
    "AuditKeyring",
    "AuditKeys",
    "audit_keyring",
    "store_keyring",
]

#: The key id of an event sealed before key ids existed (and of a single unnamed key).
NO_KEY_ID: Final = ""
_MIN_KEY_BYTES: Final = 32
_MAX_ID: Final = 32
_ID_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class AuditKeyMissing(SecureboxError):
    """An event is sealed under a key id the keyring does not hold: it cannot be verified
    (the key was removed from the keyring, or the id was written by someone else)."""

    code: ClassVar[str] = "audit_key_missing"
    status_hint: ClassVar[int] = 500

    def __init__(self, chain: str, sequence: int, key_id: str) -> None:
        where = f"chain {chain!r}" if chain else "the global chain"
        super().__init__(
            f"event {sequence} of {where} is sealed under audit key id {key_id!r}, which the "
            "keyring does not hold: add that key to verify it"
        )
        self.chain = chain
        self.sequence = sequence
        self.key_id = key_id


def _valid_id(key_id: object) -> bool:
    return (
        isinstance(key_id, str)
        and 0 < len(key_id) <= _MAX_ID
        and all(c in _ID_CHARS for c in key_id)
    )


@dataclass(frozen=True, slots=True)
class AuditKeyring:
    """Audit MAC keys by id, newest (current) first. Keys never appear in ``repr``.

    ``keys`` maps each id to its key (32 bytes or more); ``order`` lists every id once,
    the current first, then older and older. ``legacy`` is the id whose key verifies
    events without a key id (default: the last, oldest id). A keyring of the one id
    :data:`NO_KEY_ID` is a single unnamed key (:meth:`single`).
    """

    keys: Mapping[str, bytes] = field(repr=False)
    order: tuple[str, ...]
    legacy: str = ""
    _rank: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        order = tuple(self.order)
        if not order or len(set(order)) != len(order) or set(order) != set(self.keys):
            raise ConfigurationError("an audit keyring orders each of its key ids once")
        unnamed = order == (NO_KEY_ID,)
        if not unnamed and not all(_valid_id(k) for k in order):
            raise ConfigurationError("an audit key id is 1-32 of A-Z a-z 0-9 _ -")
        for key in self.keys.values():
            if not isinstance(key, bytes) or len(key) < _MIN_KEY_BYTES:
                raise ConfigurationError(f"an audit key is {_MIN_KEY_BYTES} bytes or more")
        legacy = self.legacy or order[-1]
        if legacy not in self.keys:
            raise ConfigurationError(f"the legacy audit key id {legacy!r} is not in the keyring")
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "legacy", legacy)
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))
        ranks = {key_id: index for index, key_id in enumerate(order)}
        ranks.setdefault(NO_KEY_ID, len(order))  # events without an id are the oldest
        object.__setattr__(self, "_rank", MappingProxyType(ranks))

    @classmethod
    def single(cls, key: bytes) -> AuditKeyring:
        """One unnamed key: events are sealed without a key id (the chain of before)."""
        if not isinstance(key, bytes):
            raise ConfigurationError("an audit key is bytes")
        return cls({NO_KEY_ID: key}, (NO_KEY_ID,))

    @classmethod
    def from_hex(cls, spec: str, *, legacy: str = "") -> AuditKeyring:
        """``"id1:hex,id2:hex"`` (newest first), or one key in hex (:meth:`single`)."""
        text = spec.strip() if isinstance(spec, str) else ""
        keys: dict[str, bytes] = {}
        try:
            if ":" not in text:
                if legacy:
                    raise ConfigurationError("a legacy key id names a key of id:hex pairs")
                return cls.single(bytes.fromhex(text))
            for item in text.split(","):
                key_id, _, hex_key = item.strip().partition(":")
                if key_id in keys:
                    raise ConfigurationError(f"audit key id {key_id!r} is given twice")
                keys[key_id] = bytes.fromhex(hex_key)
        except ValueError as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError("an audit key is hexadecimal") from None
        return cls(keys, tuple(keys), legacy)

    def to_hex(self) -> str:
        """The form :meth:`from_hex` reads (the keys in clear: for the key file of a
        verifier, never for a log)."""
        if self.order == (NO_KEY_ID,):
            return self.keys[NO_KEY_ID].hex()
        return ",".join(f"{key_id}:{self.keys[key_id].hex()}" for key_id in self.order)

    @property
    def current(self) -> str:
        """The id new events are sealed under."""
        return self.order[0]

    def key(self, key_id: str) -> bytes | None:
        """The key that verifies events sealed under ``key_id`` (the :attr:`legacy` key for
        :data:`NO_KEY_ID`); ``None`` when the keyring does not hold it."""
        return self.keys.get(self.legacy if key_id == NO_KEY_ID else key_id)

    def rank(self, key_id: str) -> int | None:
        """How old ``key_id`` is: 0 for the current key, more for older ones, the most for
        :data:`NO_KEY_ID`; ``None`` for an id the keyring does not hold."""
        return self._rank.get(key_id)

    def key_check_values(self) -> Mapping[str, bytes]:
        """Key id -> check value of each key (for
        :func:`~securebox_auth.crypto.keys.ensure_distinct_keys`)."""
        return {key_id: key_check_value(key) for key_id, key in self.keys.items()}

    def __repr__(self) -> str:
        return f"AuditKeyring(order={self.order!r}, legacy={self.legacy!r})"


#: What a caller may pass for the audit keys: a keyring, or one raw key.
AuditKeys = AuditKeyring | bytes


def audit_keyring(keys: AuditKeys) -> AuditKeyring:
    """``keys`` as a keyring (one raw key: :meth:`AuditKeyring.single`)."""
    if isinstance(keys, AuditKeyring):
        return keys
    if isinstance(keys, bytes):
        return AuditKeyring.single(keys)
    raise ConfigurationError("the audit keys are bytes or an AuditKeyring")


def store_keyring(audit_key: bytes | None, audit_keys: AuditKeyring | None) -> AuditKeyring:
    """The keyring of a store given ``audit_key=`` (one key) or ``audit_keys=`` (a
    keyring): exactly one of them."""
    if audit_keys is None:
        if audit_key is None:
            raise ConfigurationError("a store takes audit_key (one key) or audit_keys")
        return audit_keyring(audit_key)
    if audit_key is not None:
        raise ConfigurationError("a store takes audit_key or audit_keys, not both")
    if not isinstance(audit_keys, AuditKeyring):
        raise ConfigurationError("audit_keys is an AuditKeyring")
    return audit_keys
