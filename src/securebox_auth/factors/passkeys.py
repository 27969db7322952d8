"""Passkey state: the relying party's settings, the stored credentials and ceremonies, and
their management (list, rename, revoke, reinstate after a clone alarm).

Everything stored is a frozen value with plain fields (bytes, text, integers, aware
datetimes), so a store can (de)serialise it column by column. Management functions are pure:
they return the new :class:`PasskeySet` and the audit event for the shell to commit.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialParameters,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
    UserVerificationRequirement,
)

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.errors import ConfigurationError, MalformedInput, SecureboxError
from securebox_auth.factors.webauthn_fast import ALGORITHMS, b64url_decode, b64url_encode
from securebox_auth.keys import KeyProvider

__all__ = [
    "Ceremony",
    "CeremonyKind",
    "Passkey",
    "PasskeyInfo",
    "PasskeySet",
    "RelyingParty",
    "UnknownPasskey",
    "decoy_credential_ids",
    "decoy_descriptors",
    "descriptors",
    "list_passkeys",
    "reinstate_passkey",
    "rename_passkey",
    "revoke_passkey",
    "uv_requirement",
]

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


@dataclass(frozen=True, slots=True)
class PasskeyInfo:
    """What a "my passkeys" page shows."""

    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    status: str
    user_verified: bool
    backup_eligible: bool


def _status(p: Passkey) -> str:
    if p.revoked_at is not None:
        return "revoked"
    return "suspended" if p.suspended_at is not None else "active"


def list_passkeys(passkeys: PasskeySet | None) -> tuple[PasskeyInfo, ...]:
    if passkeys is None:
        return ()
    return tuple(
        PasskeyInfo(
            b64url_encode(p.credential_id),
            p.name,
            p.created_at,
            p.last_used_at,
            _status(p),
            p.user_verified,
            p.backup_eligible,
        )
        for p in passkeys.passkeys
    )


def check_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 64 or not name.isprintable():
        raise MalformedInput("a passkey name is 1 to 64 printable characters")
    return name.strip()


def _target(passkeys: PasskeySet | None, credential_id: str | bytes) -> tuple[PasskeySet, Passkey]:
    raw = credential_id if isinstance(credential_id, bytes) else b64url_decode(credential_id)
    found = passkeys.find(raw) if passkeys is not None else None
    if passkeys is None or found is None:
        raise UnknownPasskey("no such passkey")
    return passkeys, found


def _event(now: datetime, action: str, actor: str, subject: str, p: Passkey) -> AuditEvent:
    return AuditEvent.make(
        now, action, actor=actor, subject=subject, outcome="success", details={"passkey": p.label}
    )


def rename_passkey(
    passkeys: PasskeySet | None,
    credential_id: str | bytes,
    name: str,
    *,
    actor: str,
    subject: str,
    now: datetime,
) -> tuple[PasskeySet, AuditEvent]:
    now = require_aware(now)
    owned, found = _target(passkeys, credential_id)
    renamed = replace(found, name=check_name(name))
    return owned.replace(renamed), _event(now, "passkey.rename", actor, subject, renamed)


def revoke_passkey(
    passkeys: PasskeySet | None,
    credential_id: str | bytes,
    *,
    actor: str,
    subject: str,
    now: datetime,
) -> tuple[PasskeySet, AuditEvent]:
    """Revoke a lost or unwanted passkey (ASVS 5.0 6.5.6): it never authenticates again."""
    now = require_aware(now)
    owned, found = _target(passkeys, credential_id)
    revoked = found if found.revoked_at is not None else replace(found, revoked_at=now)
    return owned.replace(revoked), _event(now, "passkey.revoke", actor, subject, revoked)


def reinstate_passkey(
    passkeys: PasskeySet | None,
    credential_id: str | bytes,
    *,
    actor: str,
    subject: str,
    now: datetime,
) -> tuple[PasskeySet, AuditEvent]:
    """Lift a clone suspension after review (an administrator's decision, audited)."""
    now = require_aware(now)
    owned, found = _target(passkeys, credential_id)
    if found.revoked_at is not None:
        raise UnknownPasskey("a revoked passkey cannot be reinstated")
    lifted = replace(found, suspended_at=None)
    return owned.replace(lifted), _event(now, "passkey.reinstate", actor, subject, lifted)


def uv_requirement(required: bool) -> UserVerificationRequirement:
    """``required`` when the passkey must count as strong authentication, else
    ``preferred`` (the authenticator verifies the user if it can)."""
    return (
        UserVerificationRequirement.REQUIRED if required else UserVerificationRequirement.PREFERRED
    )


def descriptors(
    passkeys: PasskeySet | None, *, include_suspended: bool = False
) -> list[PublicKeyCredentialDescriptor]:
    """The credentials to name in ``allowCredentials`` (or ``excludeCredentials``)."""
    if passkeys is None:
        return []
    return [
        PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=p.credential_id)
        for p in passkeys.passkeys
        if p.revoked_at is None and (include_suspended or p.suspended_at is None)
    ]


def decoy_credential_ids(keys: KeyProvider, rp_id: str, principal: str) -> tuple[bytes, ...]:
    """Plausible credential ids for a principal with no usable passkey (unknown, inactive,
    not enrolled, all revoked): one or two ids of common lengths, derived by HMAC-SHA256
    under the current key of ``keys`` from the rp id and the claimed principal, so the same
    claim always gets the same list and the answer does not tell who has enrolled (WebAuthn
    L3 section 14.6.2; ASVS 5.0 6.3.8). A key rotation changes every decoy at once."""
    key_id = keys.current_key_id
    seed = keys.mac(key_id, _DECOY_TAG + rp_id.encode() + b"\x00" + principal.encode())
    count = 2 if seed[0] % 4 == 0 else 1
    ids = []
    for index in range(count):
        length = _DECOY_LENGTHS[seed[1 + index] % len(_DECOY_LENGTHS)]
        material = b"".join(
            keys.mac(key_id, _DECOY_TAG + seed + bytes((index, block))) for block in (0, 1)
        )
        ids.append(material[:length])
    return tuple(ids)


def decoy_descriptors(
    keys: KeyProvider, rp_id: str, principal: str
) -> list[PublicKeyCredentialDescriptor]:
    """:func:`decoy_credential_ids` as ``allowCredentials`` entries."""
    return [
        PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=decoy)
        for decoy in decoy_credential_ids(keys, rp_id, principal)
    ]
