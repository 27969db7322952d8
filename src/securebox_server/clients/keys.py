"""A client's credentials: its public keys (a JWKS, RFC 7517) and its certificate's
thumbprint (RFC 8705 section 3.1, ``x5t#S256``: base64url SHA-256 of the DER certificate).

Accepted keys: EC P-256 (``ES256``), OKP Ed25519 (``EdDSA``/``Ed25519``) and RSA of at
least 2048 bits (``PS256``/``RS256``); public parts only. Anything else is refused when the
client is registered, so verification never meets a key it cannot use.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from securebox_auth.errors import MalformedInput

__all__ = [
    "ALGORITHMS_OF",
    "MAX_KEYS",
    "MIN_RSA_BITS",
    "ClientKey",
    "parse_jwks",
    "thumbprint",
    "thumbprint_of_pem",
]

MAX_KEYS: Final = 8
MIN_RSA_BITS: Final = 2048
_PRIVATE: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
ClientKey = ECKey | OKPKey | RSAKey
#: The algorithms each key type may sign with.
ALGORITHMS_OF: Final = {
    "EC": frozenset({"ES256"}),
    "OKP": frozenset({"EdDSA", "Ed25519"}),
    "RSA": frozenset({"PS256", "RS256"}),
}


def _bits(modulus: object) -> int:
    if not isinstance(modulus, str) or len(modulus) > 2048:
        return 0
    try:
        raw = base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4))
    except (ValueError, TypeError):
        return 0
    return int.from_bytes(raw, "big").bit_length()


def _key(document: Mapping[str, Any]) -> ClientKey:
    if not isinstance(document, Mapping) or _PRIVATE & set(document):
        raise MalformedInput("a JWKS of public keys is expected (no private parts)")
    kty = document.get("kty")
    try:
        if kty == "EC" and document.get("crv") == "P-256":
            return ECKey.import_key(dict(document))
        if kty == "OKP" and document.get("crv") == "Ed25519":
            return OKPKey.import_key(dict(document))
        if kty == "RSA":
            if _bits(document.get("n")) < MIN_RSA_BITS:  # before joserfc (which only warns)
                raise MalformedInput(f"RSA keys have at least {MIN_RSA_BITS} bits")
            key = RSAKey.import_key(dict(document))
            raw = key.raw_value
            if not isinstance(raw, RSAPublicKey) or raw.key_size < MIN_RSA_BITS:
                raise MalformedInput(f"RSA keys have at least {MIN_RSA_BITS} bits")
            return key
    except (JoseError, ValueError, TypeError) as exc:
        if isinstance(exc, MalformedInput):
            raise
        raise MalformedInput("a key of the JWKS cannot be read") from None
    raise MalformedInput("keys are EC P-256, Ed25519 or RSA (2048 bits or more)")


def parse_jwks(document: object) -> tuple[dict[str, Any], KeySet]:
    """The canonical JWKS (public members only) and its key set; :class:`MalformedInput`
    for anything but 1 to 8 supported public keys with distinct ``kid``s."""
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except ValueError:
            raise MalformedInput("the JWKS is not JSON") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise MalformedInput('a JWKS is an object with a "keys" list')
    raw_keys = document["keys"]
    if not 0 < len(raw_keys) <= MAX_KEYS:
        raise MalformedInput(f"a JWKS holds 1 to {MAX_KEYS} keys")
    keys = [_key(k) for k in raw_keys]
    kids = [k.get("kid") for k in raw_keys]
    if len(keys) > 1 and (None in kids or len(set(kids)) != len(kids)):
        raise MalformedInput("the keys of a JWKS with several keys have distinct kids")
    public = []
    for key, kid in zip(keys, kids, strict=True):
        member = dict(key.as_dict(private=False))
        if kid is not None:
            member["kid"] = str(kid)
        public.append(member)
    canonical = {"keys": public}
    return canonical, KeySet.import_key_set(canonical)  # type: ignore[arg-type]


def thumbprint(certificate: x509.Certificate) -> str:
    """``x5t#S256`` of ``certificate``: base64url (unpadded) SHA-256 of its DER."""
    digest = hashlib.sha256(certificate.public_bytes(Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def thumbprint_of_pem(pem: bytes) -> str:
    """The thumbprint of one PEM certificate (:class:`MalformedInput` otherwise)."""
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise MalformedInput("not a PEM certificate") from None
    return thumbprint(certificate)
