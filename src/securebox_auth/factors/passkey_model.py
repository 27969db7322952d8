"""Passkey values: the relying party (origins, rp id), a registered passkey, a principal's
set of passkeys, and a WebAuthn ceremony in progress.

Re-exported by :mod:`securebox_auth.factors.passkeys` (ADR 0019).
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    PublicKeyCredentialParameters,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
)

from securebox_auth.errors import ConfigurationError, SecureboxError
from securebox_auth.factors.webauthn_fast import ALGORITHMS

__all__ = ["Ceremony", "CeremonyKind", "Passkey", "PasskeySet", "RelyingParty", "UnknownPasskey"]

_HOST: Final = re.compile(
    r"(?=.{1,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)
_ZERO_AAGUID: Final = "00000000-0000-0000-0000-000000000000"
_DECOY_TAG: Final = b"securebox/webauthn/decoy/v1\x00"
#: Credential id lengths seen from common authenticators (synced passkeys, platform TPMs,
#: security keys): a decoy takes one of them.
_DECOY_LENGTHS: Final = (16, 20, 32, 64)


class UnknownPasskey(SecureboxError, LookupError):
    """A management call named a credential the principal does not have."""

    code = "unknown_passkey"
    status_hint = 404


def _check_origin(origin: str, rp_id: str) -> str:
    parts = urlsplit(origin)
    host = parts.hostname or ""
    local = host == "localhost" and rp_id == "localhost"
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ConfigurationError(f"origin {origin!r}: https only (http for localhost)")
    if parts.path or parts.query or parts.fragment or parts.username:
        raise ConfigurationError(f"origin {origin!r}: scheme, host and port only")
    if host != rp_id and not host.endswith("." + rp_id):
        raise ConfigurationError(f"origin {origin!r} is not within the relying party {rp_id!r}")
    return origin


def _check_top_origin(origin: object) -> str:
    if not isinstance(origin, str):
        raise ConfigurationError("top_origins lists origins as text")
    parts = urlsplit(origin)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigurationError(f"top origin {origin!r}: https only")
    if parts.path or parts.query or parts.fragment or parts.username:
        raise ConfigurationError(f"top origin {origin!r}: scheme, host and port only")
    return origin


@dataclass(frozen=True, slots=True, kw_only=True)
class RelyingParty:
    """Who the passkeys are for: the rp id (a domain), the exact origins of the portal's
    pages, the signature algorithms allowed, and how long a ceremony may wait.

    ``top_origins`` lists the top-level pages of *other* sites allowed to embed the portal's
    ceremonies in a cross-origin iframe (WebAuthn Level 3, sections 7.1 and 7.2: a
    ``crossOrigin: true`` response is refused unless the relying party expects it). Empty,
    the default: every cross-origin response is refused.
    """

    id: str
    name: str
    origins: frozenset[str]
    algorithms: tuple[str, ...] = ("ES256", "EdDSA", "RS256")
    ceremony_timeout: timedelta = timedelta(minutes=5)
    max_passkeys: int = 20
    top_origins: frozenset[str] = frozenset()
    _server: Fido2Server = field(init=False, repr=False, compare=False)
    _id_hash: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _HOST.fullmatch(self.id):
            raise ConfigurationError("the relying-party id is a lower-case domain name")
        if not self.origins:
            raise ConfigurationError("a relying party lists the origins of its pages")
        object.__setattr__(
            self, "origins", frozenset(_check_origin(o, self.id) for o in self.origins)
        )
        object.__setattr__(
            self, "top_origins", frozenset(_check_top_origin(o) for o in self.top_origins)
        )
        unknown = [a for a in self.algorithms if a not in ALGORITHMS]
        if unknown or not self.algorithms:
            raise ConfigurationError(f"passkey algorithms are among {sorted(ALGORITHMS)}")
        if not timedelta(seconds=30) <= self.ceremony_timeout <= timedelta(minutes=10):
            raise ConfigurationError("ceremony_timeout is 30 seconds to 10 minutes")
        if not 1 <= self.max_passkeys <= 100:
            raise ConfigurationError("max_passkeys is 1 to 100")
        origins = self.origins
        server = Fido2Server(
            PublicKeyCredentialRpEntity(name=self.name, id=self.id),
            attestation=AttestationConveyancePreference.NONE,
            verify_origin=lambda origin: type(origin) is str and origin in origins,
        )
        server.allowed_algorithms = [
            PublicKeyCredentialParameters(
                type=PublicKeyCredentialType.PUBLIC_KEY, alg=ALGORITHMS[a]
            )
            for a in self.algorithms
        ]
        object.__setattr__(self, "_server", server)
        object.__setattr__(self, "_id_hash", hashlib.sha256(self.id.encode()).digest())

    def server(self) -> Fido2Server:
        """python-fido2's server for this relying party (built once)."""
        return self._server

    @property
    def id_hash(self) -> bytes:
        return self._id_hash

    @property
    def cose_algorithms(self) -> frozenset[int]:
        return frozenset(ALGORITHMS[a] for a in self.algorithms)


@dataclass(frozen=True, slots=True)
class Passkey:
    """One registered credential. ``public_key`` is its COSE_Key (CBOR)."""

    credential_id: bytes
    public_key: bytes = field(repr=False)
    algorithm: int
    name: str
    created_at: datetime
    sign_count: int = 0
    #: The UV flag at registration.
    user_verified: bool = False
    #: The BE flag: a synced (multi-device) passkey.
    backup_eligible: bool = False
    aaguid: str = _ZERO_AAGUID
    attestation: str = "none"
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    #: Set when the signature counter went backwards (a cloned authenticator).
    suspended_at: datetime | None = None

    @property
    def label(self) -> str:
        """A short, stable name for audit records (credential ids are not secret: the
        browser is sent them in ``allowCredentials``)."""
        return self.credential_id[:6].hex()

    @property
    def usable(self) -> bool:
        return self.revoked_at is None and self.suspended_at is None

    def used(self, counter: int, now: datetime) -> Passkey:
        """This passkey after a successful assertion (built directly: it is on the hot path)."""
        return Passkey(
            self.credential_id,
            self.public_key,
            self.algorithm,
            self.name,
            self.created_at,
            counter,
            self.user_verified,
            self.backup_eligible,
            self.aaguid,
            self.attestation,
            now,
            self.revoked_at,
            self.suspended_at,
        )


@dataclass(frozen=True, slots=True)
class PasskeySet:
    """A principal's passkeys and its WebAuthn user handle (random, no personal data)."""

    user_handle: bytes
    passkeys: tuple[Passkey, ...] = ()

    @classmethod
    def new(cls) -> PasskeySet:
        return cls(secrets.token_bytes(32))

    def find(self, credential_id: bytes) -> Passkey | None:
        for passkey in self.passkeys:
            if passkey.credential_id == credential_id:
                return passkey
        return None

    def usable(self) -> tuple[Passkey, ...]:
        return tuple(p for p in self.passkeys if p.usable)

    def replace(self, passkey: Passkey) -> PasskeySet:
        """This set with ``passkey`` replacing the one of the same credential id."""
        return PasskeySet(
            self.user_handle,
            tuple(
                passkey if p.credential_id == passkey.credential_id else p for p in self.passkeys
            ),
        )

    def added(self, passkey: Passkey) -> PasskeySet:
        return PasskeySet(self.user_handle, (*self.passkeys, passkey))


class CeremonyKind(enum.Enum):
    REGISTRATION = "registration"
    AUTHENTICATION = "authentication"


@dataclass(frozen=True, slots=True)
class Ceremony:
    """A ceremony waiting for the browser's answer, kept server-side under ``id``. Every
    finish returns it consumed: store that (or delete the ceremony) whatever the outcome."""

    id: str
    kind: CeremonyKind
    principal: str
    challenge: bytes
    require_uv: bool
    issued_at: datetime
    expires_at: datetime
    #: ``login``, ``step_up`` or ``register`` (the audit path of the attempt).
    path: str = "login"
    operation: str | None = None
    digest: str | None = None
    nonce: bytes | None = None
    consumed_at: datetime | None = None

    def consumed(self, now: datetime) -> Ceremony:
        if self.consumed_at is not None:
            return self
        return Ceremony(
            self.id,
            self.kind,
            self.principal,
            self.challenge,
            self.require_uv,
            self.issued_at,
            self.expires_at,
            self.path,
            self.operation,
            self.digest,
            self.nonce,
            now,
        )
