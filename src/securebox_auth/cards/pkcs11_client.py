"""Sign a certificate challenge with a key on a PKCS#11 token (USB key, smartcard, HSM).

The same code serves SoftHSM2, OpenSC's ``opensc-pkcs11.so`` (PIV cards through pcscd) and
a vendor's module: :class:`TokenSelector` names the module path and the token (by label or
by slot description), and optionally the key (by ``CKA_ID`` or label). :func:`sign_challenge`
logs in with the PIN, finds the private key and its certificate, signs, and logs out.

The token only sees a digest: the host hashes the payload with the hash
:func:`~securebox_auth.factors.certificate.sign_payload_hash` names for the certificate and
asks for a raw ``CKM_ECDSA`` signature (SoftHSM2 has no ECDSA-with-SHA-256 mechanism), then
DER-encodes ``r || s`` as the server expects. RSA keys use ``CKM_SHA256_RSA_PKCS``.

Errors are typed: :class:`TokenMissing`, :class:`WrongPin`, :class:`PinLocked`,
:class:`KeyMissing`, all :class:`TokenError`. Requires the ``pkcs11`` extra
(python-pkcs11).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, Mechanism, ObjectClass, TokenFlag
from pkcs11 import exceptions as pk

from securebox_auth.errors import ConfigurationError, SecureboxError
from securebox_auth.factors.certificate import sign_payload_hash

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Library  # noqa: N812 - a class named lib

__all__ = [
    "KeyMissing",
    "PinLocked",
    "TokenError",
    "TokenMissing",
    "TokenSelector",
    "TokenSignature",
    "WrongPin",
    "load_module",
    "pin_status",
    "read_certificate",
    "sign_challenge",
]


class TokenError(SecureboxError):
    """A PKCS#11 token could not be used."""

    code: ClassVar[str] = "token_error"
    status_hint: ClassVar[int] = 400


class TokenMissing(TokenError):
    """No token (or no unique token) matches the selector: it is not plugged in."""

    code: ClassVar[str] = "token_missing"


class WrongPin(TokenError):
    """The token refused the PIN (its own try counter moved on)."""

    code: ClassVar[str] = "token_wrong_pin"


class PinLocked(TokenError):
    """The token's PIN is blocked: it must be unblocked with the PUK / SO PIN."""

    code: ClassVar[str] = "token_pin_locked"


class KeyMissing(TokenError):
    """The token holds no (unique) private key with its certificate for the selector."""

    code: ClassVar[str] = "token_key_missing"


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenSelector:
    """Which module, token and key to use."""

    module: str
    token_label: str | None = None
    #: Select by the reader name (OpenSC lists one slot per reader), e.g.
    #: ``"Virtual PCD 00 00"``; matched as a prefix of the slot description.
    slot_description: str | None = None
    key_id: bytes | None = None
    key_label: str | None = None

    def __post_init__(self) -> None:
        if not self.module:
            raise ConfigurationError("a PKCS#11 module path is required")


@dataclass(frozen=True, slots=True)
class TokenSignature:
    """A signature over a challenge payload and the certificate of the key that made it."""

    signature: bytes
    certificate: x509.Certificate = field(repr=False)


def load_module(selector: TokenSelector) -> None:
    """Load the PKCS#11 module; ConfigurationError when it cannot be (checked by the agent
    at start, before any page calls it)."""
    _token_source(selector)


def _token_source(selector: TokenSelector) -> Pkcs11Library:
    try:
        return pkcs11.lib(selector.module)
    except (OSError, RuntimeError, pk.PKCS11Error) as exc:
        raise ConfigurationError(f"cannot load the PKCS#11 module: {type(exc).__name__}") from None


def _token(selector: TokenSelector) -> pkcs11.Token:
    library = _token_source(selector)
    try:
        if selector.slot_description is not None:
            wanted = selector.slot_description
            slots = [
                s
                for s in library.get_slots(token_present=True)
                if s.slot_description.strip().startswith(wanted)
            ]
            tokens = [s.get_token() for s in slots]
            if selector.token_label is not None:
                tokens = [t for t in tokens if t.label.strip() == selector.token_label]
            if len(tokens) != 1:
                raise TokenMissing("no single token in that reader")
            return tokens[0]
        return library.get_token(token_label=selector.token_label)
    except (pk.NoSuchToken, pk.MultipleTokensReturned, pk.TokenNotPresent):
        raise TokenMissing("no single token matches") from None


def _key_filter(selector: TokenSelector) -> dict[Attribute, object]:
    attrs: dict[Attribute, object] = {}
    if selector.key_id is not None:
        attrs[Attribute.ID] = selector.key_id
    if selector.key_label is not None:
        attrs[Attribute.LABEL] = selector.key_label
    return attrs


def _certificate(
    session: pkcs11.Session, key_id: bytes | None, selector: TokenSelector
) -> x509.Certificate:
    attrs: dict[Attribute, object] = {Attribute.CLASS: ObjectClass.CERTIFICATE}
    if key_id is not None:
        attrs[Attribute.ID] = key_id
    elif selector.key_label is not None:
        attrs[Attribute.LABEL] = selector.key_label
    found = list(session.get_objects(attrs))
    if len(found) != 1:
        raise KeyMissing("no single certificate for the key")
    return x509.load_der_x509_certificate(bytes(found[0][Attribute.VALUE]))


def read_certificate(selector: TokenSelector) -> x509.Certificate:
    """The certificate on the token (public: no PIN needed), to enrol it."""
    token = _token(selector)
    with token.open() as session:
        return _certificate(session, selector.key_id, selector)


def pin_status(selector: TokenSelector) -> str | None:
    """What the token says of its user PIN's try counter (PKCS#11 token flags):
    ``"locked"``, ``"final_try"`` (one try left), ``"count_low"`` (a wrong PIN was entered
    since the last right one) or ``None`` (nothing known: SoftHSM2 sets no such flag)."""
    flags = _token(selector).flags
    if flags & TokenFlag.USER_PIN_LOCKED:
        return "locked"
    if flags & TokenFlag.USER_PIN_FINAL_TRY:
        return "final_try"
    if flags & TokenFlag.USER_PIN_COUNT_LOW:
        return "count_low"
    return None


def sign_challenge(payload: bytes, pin: str, selector: TokenSelector) -> TokenSignature:
    """Log in with ``pin`` and sign ``payload`` (a
    :meth:`~securebox_auth.factors.certificate.CertChallenge.payload`) with the token key."""
    token = _token(selector)
    try:
        with token.open(user_pin=pin) as session:
            keys = list(
                session.get_objects(
                    {Attribute.CLASS: ObjectClass.PRIVATE_KEY, **_key_filter(selector)}
                )
            )
            if len(keys) != 1:
                raise KeyMissing("no single private key matches")
            key = keys[0]
            key_id = bytes(key[Attribute.ID]) if selector.key_id is None else selector.key_id
            cert = _certificate(session, key_id or None, selector)
            public = cert.public_key()
            digest = sign_payload_hash(cert)
            if isinstance(public, ec.EllipticCurvePublicKey) and digest is not None:
                hasher = hashes.Hash(digest)
                hasher.update(payload)
                raw = key.sign(hasher.finalize(), mechanism=Mechanism.ECDSA)  # type: ignore[attr-defined]
                half = len(raw) // 2
                signature = encode_dss_signature(
                    int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
                )
            elif isinstance(public, rsa.RSAPublicKey):
                signature = key.sign(payload, mechanism=Mechanism.SHA256_RSA_PKCS)  # type: ignore[attr-defined]
            else:
                raise KeyMissing("the token key type is not supported")
            return TokenSignature(bytes(signature), cert)
    except pk.PinIncorrect:
        raise WrongPin("the token refused the PIN") from None
    except pk.PinLocked:
        raise PinLocked("the token's PIN is blocked") from None
    except (pk.PinLenRange, pk.PinInvalid):
        raise WrongPin("the token refused the PIN's format") from None
    except (pk.TokenNotPresent, pk.DeviceRemoved):
        raise TokenMissing("the token was removed") from None
