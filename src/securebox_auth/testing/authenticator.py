"""A software WebAuthn authenticator for tests, made from ``cryptography`` keys.

It answers ``navigator.credentials.create`` and ``.get`` options the way a browser's
``credential.toJSON()`` does (base64url fields), with attestation ``none`` or ``packed`` self
attestation, and lets a test choose what a real authenticator would not: another origin or
rp id, no UP or UV flag, a counter that goes backwards.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from fido2 import cbor
from fido2.cose import ES256, EdDSA

from securebox_auth.factors.webauthn_fast import b64url_decode, b64url_encode

__all__ = ["AAGUID", "SoftAuthenticator", "tamper"]

UP, UV, BE, AT = 0x01, 0x04, 0x08, 0x40
AAGUID = bytes.fromhex("5ec0b0c5ec0b0c5ec0b0c5ec0b0c5ec0")


@dataclass
class SoftAuthenticator:
    origin: str = "https://bank.example"
    rp_id: str = "bank.example"
    algorithm: Literal["ES256", "EdDSA"] = "ES256"
    counter: int = 0
    #: Whether the counter increases at each assertion (False: always 0, like many passkeys).
    counting: bool = True
    uv: bool = True
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = field(init=False)

    def __post_init__(self) -> None:
        self.key = (
            ec.generate_private_key(ec.SECP256R1())
            if self.algorithm == "ES256"
            else ed25519.Ed25519PrivateKey.generate()
        )

    def cose(self) -> dict[int, Any]:
        public = self.key.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            return dict(ES256.from_cryptography_key(public))  # type: ignore[no-untyped-call]
        return dict(EdDSA.from_cryptography_key(public))  # type: ignore[no-untyped-call]

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self.key.sign(data)

    def _flags(self, *, up: bool, uv: bool | None) -> int:
        return (UP if up else 0) | (UV if (self.uv if uv is None else uv) else 0)

    def _client_data(
        self, kind: str, challenge: str, origin: str | None, extra: dict[str, object] | None
    ) -> bytes:
        body: dict[str, object] = {"type": kind, "challenge": challenge}
        body.update(origin=origin or self.origin, crossOrigin=False)
        body.update(extra or {})
        return json.dumps(body, separators=(",", ":")).encode()

    def create(
        self,
        options: dict[str, Any],
        *,
        attestation: Literal["none", "packed"] = "none",
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool | None = None,
        up: bool = True,
        client_extra: dict[str, object] | None = None,
    ) -> dict[str, Any]:
        """``credential.toJSON()`` after ``navigator.credentials.create(options)``.
        ``client_extra`` adds or replaces members of ``clientDataJSON`` (for instance
        ``{"crossOrigin": True, "topOrigin": "https://aggregator.example"}``)."""
        public = options["publicKey"]
        client = self._client_data("webauthn.create", public["challenge"], origin, client_extra)
        attested = (
            AAGUID
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + cbor.encode(self.cose())
        )
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        flags = self._flags(up=up, uv=uv) | AT | BE
        auth_data = rp_hash + struct.pack(">BI", flags, self.counter) + attested
        statement: dict[str, Any] = {}
        if attestation == "packed":
            alg = -7 if self.algorithm == "ES256" else -8
            signed = self.sign(auth_data + hashlib.sha256(client).digest())
            statement = {"alg": alg, "sig": signed}
        obj = cbor.encode({"fmt": attestation, "authData": auth_data, "attStmt": statement})
        return {
            "id": b64url_encode(self.credential_id),
            "rawId": b64url_encode(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url_encode(client),
                "attestationObject": b64url_encode(obj),
                "transports": ["internal"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        uv: bool | None = None,
        up: bool = True,
        counter: int | None = None,
        kind: str = "webauthn.get",
        challenge: str | None = None,
        client_extra: dict[str, object] | None = None,
        backup_eligible: bool = True,
    ) -> dict[str, Any]:
        """``credential.toJSON()`` after ``navigator.credentials.get(options)``
        (``client_extra`` as in :meth:`create`)."""
        public = options["publicKey"]
        if counter is None:
            if self.counting:
                self.counter += 1
            counter = self.counter
        client = self._client_data(kind, challenge or public["challenge"], origin, client_extra)
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        # a genuine authenticator reports the same backup eligibility as at the creation
        flags = self._flags(up=up, uv=uv) | (BE if backup_eligible else 0)
        auth_data = rp_hash + struct.pack(">BI", flags, counter)
        signature = self.sign(auth_data + hashlib.sha256(client).digest())
        return {
            "id": b64url_encode(self.credential_id),
            "rawId": b64url_encode(self.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url_encode(client),
                "authenticatorData": b64url_encode(auth_data),
                "signature": b64url_encode(signature),
                "userHandle": None,
            },
        }


def tamper(response: dict[str, Any], part: str, change: Any) -> dict[str, Any]:
    """A copy of ``response`` with one base64url field of ``response`` changed by ``change``
    (a function of the decoded bytes)."""
    copy: dict[str, Any] = json.loads(json.dumps(response))
    inner = copy["response"]
    inner[part] = b64url_encode(change(b64url_decode(inner[part])))
    return copy
