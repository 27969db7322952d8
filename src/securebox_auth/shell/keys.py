"""One key provider for the whole entry point: a distinct keyring per purpose.

:class:`DerivedKeys` derives each purpose's keyring from one master keyring with HKDF-SHA256
(RFC 5869): for every master key id, ``HKDF(master key, salt="securebox purposes v1",
info=purpose)``. Keys of two purposes are then independent (a MAC under one says nothing
about the other) and a service's :class:`~securebox_auth.errors.KeyReuse` check passes,
while an operator keeps one secret. Rotation keeps working: a new master key id gives each
purpose a new key under the same id, the older ids stay readable. A deployment that keeps
its keys in an HSM, one per purpose, passes a mapping instead (:class:`MappedKeys`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from securebox_auth.audit_keys import AuditKeyring
from securebox_auth.crypto.keys import MIN_KEY_BYTES, StaticKeyring
from securebox_auth.errors import ConfigurationError

__all__ = [
    "APPLICATION",
    "AUDIT",
    "COMPANY_PROOF",
    "PEPPER",
    "PURPOSES",
    "WRAPPING",
    "DerivedKeys",
    "MappedKeys",
    "PurposeKeys",
]

#: The argon2id pepper of codes (confidential, out-of-band, recovery).
PEPPER: Final = "pepper"
#: Application MACs: out-of-band send logs, passkey decoys, recovery codes.
APPLICATION: Final = "application"
#: AES-GCM wrapping of secrets at rest (TOTP seeds).
WRAPPING: Final = "wrapping"
#: The proofs a bank hands out to add a company to a subscription.
COMPANY_PROOF: Final = "company-proof"
#: The audit chains' HMAC keys (for the store; see :meth:`DerivedKeys.audit_keyring`).
AUDIT: Final = "audit"
PURPOSES: Final = (PEPPER, APPLICATION, WRAPPING, COMPANY_PROOF)
_SALT: Final = b"securebox purposes v1"


@runtime_checkable
class PurposeKeys(Protocol):
    """Hands out the keyring of one purpose; two purposes never share a key."""

    def for_purpose(self, purpose: str) -> StaticKeyring: ...


def _derive(key: bytes, purpose: str) -> bytes:
    info = b"securebox/" + purpose.encode("ascii")
    return HKDF(algorithm=hashes.SHA256(), length=MIN_KEY_BYTES, salt=_SALT, info=info).derive(key)


@dataclass(frozen=True, slots=True)
class DerivedKeys:
    """Per-purpose keyrings derived from ``master`` (see the module documentation)."""

    master: StaticKeyring = field(repr=False)
    _cache: dict[str, StaticKeyring] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def generate(cls) -> DerivedKeys:
        """A fresh random master key (tests and demos; a server loads its own)."""
        return cls(StaticKeyring.generate("m1"))

    @classmethod
    def from_hex(cls, spec: str) -> DerivedKeys:
        """``"id1:hex,id2:hex"`` as :meth:`StaticKeyring.from_hex` (first is current)."""
        return cls(StaticKeyring.from_hex(spec))

    def for_purpose(self, purpose: str) -> StaticKeyring:
        if purpose not in PURPOSES:
            raise ConfigurationError(f"unknown key purpose {purpose!r}")
        found = self._cache.get(purpose)
        if found is None:
            keys = {kid: _derive(key, purpose) for kid, key in self.master.keys.items()}
            found = self._cache[purpose] = StaticKeyring(keys, self.master.current)
        return found

    def audit_key(self) -> bytes:
        """The audit key derived from the current master key only, a single unnamed key:
        a rotation changes it and breaks the chains. Prefer :meth:`audit_keyring`."""
        return _derive(self.master.keys[self.master.current], AUDIT)

    def audit_keyring(self, legacy: str = "") -> AuditKeyring:
        """The audit keys of every master key id, under the same ids, the current first
        then the others in the master keyring's order (``SqlStore(engine,
        audit_keys=...)``, ADR 0059). Events sealed before key ids verify under
        ``legacy`` (default: the last id, the oldest)."""
        master = self.master
        order = (master.current, *(k for k in master.keys if k != master.current))
        keys = {kid: _derive(master.keys[kid], AUDIT) for kid in order}
        return AuditKeyring(keys, order, legacy)

    def __repr__(self) -> str:
        return f"DerivedKeys(master ids={sorted(self.master.keys)!r})"


@dataclass(frozen=True, slots=True)
class MappedKeys:
    """One keyring per purpose, given by the deployment (every purpose is required)."""

    keyrings: Mapping[str, StaticKeyring] = field(repr=False)

    def __post_init__(self) -> None:
        missing = [p for p in PURPOSES if p not in self.keyrings]
        if missing:
            raise ConfigurationError(f"no keyring for {', '.join(missing)}")

    def for_purpose(self, purpose: str) -> StaticKeyring:
        found = self.keyrings.get(purpose)
        if found is None:
            raise ConfigurationError(f"unknown key purpose {purpose!r}")
        return found
