"""The fast path of a WebAuthn assertion: the browser's JSON checked without fido2's parser.

python-fido2 builds its response objects through ``typing.get_type_hints`` on every call,
which costs about 13 times the signature check itself (``performance.md``). This module
reads the JSON of ``credential.toJSON()`` directly and applies **the same checks, in the same
order**, as ``Fido2Server.authenticate_complete`` (fido2 2.x):

1. ``id`` equals ``rawId``; the credential type is ``public-key``;
2. ``clientDataJSON.type`` is ``webauthn.get``;
3. ``clientDataJSON.origin`` is one of the relying party's origins;
4. ``clientDataJSON.challenge`` equals the expected challenge (constant time);
5. the first 32 bytes of ``authenticatorData`` equal SHA-256 of the relying-party id;
6. the UP flag is set, and the UV flag when user verification is required;
7. the credential is known, and the signature verifies over
   ``authenticatorData || SHA-256(clientDataJSON)`` with its public key.

``clientDataJSON`` is read as strict UTF-8 (a byte-order mark or UTF-16 is refused, as fido2
refuses it), and ``authenticatorData`` must have fido2's exact structure (no trailing bytes;
attested credential data and extensions only when the AT and ED flags say so). Then come the
checks fido2 leaves to its caller, made the same way on both paths by
:func:`caller_checks`: ``crossOrigin`` / ``topOrigin`` (WebAuthn Level 3, sections 7.1 and
7.2: refused unless the relying party allows embedding by the top origin) and the backup
flags (BS without BE is refused).

``tests/factors/test_webauthn_differential.py`` mutates every field of a valid assertion and
checks that both paths give the same verdict (accept or refuse). Public keys
are decoded once from their COSE form and cached (an allow-list of algorithms: ES256,
EdDSA, RS256).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import struct
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from fido2 import cbor
from fido2.webauthn import AuthenticatorData

from securebox_auth.errors import ConfigurationError, MalformedInput

__all__ = [
    "ALGORITHMS",
    "FIDO2_PARSE_ERRORS",
    "MalformedCredential",
    "ParsedAssertion",
    "PasskeyFailure",
    "b64url_decode",
    "b64url_encode",
    "caller_checks",
    "check_assertion",
    "client_data",
    "credential_shape",
    "fido2_failure",
    "load_public_key",
    "parse_assertion",
]

#: COSE algorithm identifiers securebox accepts, by name (style guide P7: an allow-list).
ALGORITHMS: Final = {"ES256": -7, "EdDSA": -8, "RS256": -257}
_FLAG_UP: Final = 0x01
_FLAG_UV: Final = 0x04
_FLAG_BE: Final = 0x08
_FLAG_BS: Final = 0x10
_FLAG_AT_ED: Final = 0x40 | 0x80
#: What fido2's parsers raise on malformed binary input (CBOR, struct, base64, COSE): caught
#: only around those parsers and turned into :class:`MalformedCredential`. RecursionError:
#: fido2's CBOR decoder recurses once per nesting level.
FIDO2_PARSE_ERRORS: Final = (
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    struct.error,
    RecursionError,
)
_ECDSA_SHA256: Final = ec.ECDSA(hashes.SHA256())
_SHA256: Final = hashes.SHA256()
_PKCS1: Final = padding.PKCS1v15()
_MAX_JSON: Final = 64 * 1024


class MalformedCredential(MalformedInput):
    """A WebAuthn response from the browser could not be read (not JSON, missing fields,
    bad base64url). Nothing was counted: it proves nothing either way."""

    code = "malformed_credential"


class PasskeyFailure(enum.Enum):
    """Why a passkey ceremony failed, for the audit trail only; never shown to the user.
    Each value names one of python-fido2's ``ValueError`` messages or one of the checks
    fido2 leaves to the caller."""

    WRONG_TYPE = "wrong_client_data_type"
    WRONG_ORIGIN = "wrong_origin"
    WRONG_CHALLENGE = "wrong_challenge"
    WRONG_RP_ID = "wrong_rp_id"
    NO_USER_PRESENCE = "no_user_presence"
    MISSING_UV = "missing_user_verification"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_CREDENTIAL = "unknown_credential"
    INVALID = "invalid_response"
    # checks fido2 leaves to the caller
    REPLAY = "ceremony_already_used"
    EXPIRED = "ceremony_expired"
    WRONG_CEREMONY = "wrong_ceremony"
    DATA_MISMATCH = "operation_data_changed"
    COUNTER_REGRESSION = "counter_regression"
    REVOKED = "revoked_credential"
    SUSPENDED = "suspended_credential"
    CROSS_ORIGIN = "cross_origin_not_allowed"
    WRONG_TOP_ORIGIN = "wrong_top_origin"
    BAD_FLAGS = "inconsistent_backup_flags"
    UNKNOWN_USER_HANDLE = "wrong_user_handle"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    UNSUPPORTED_ATTESTATION = "unsupported_attestation"
    BAD_ATTESTATION = "bad_attestation"
    DUPLICATE_CREDENTIAL = "duplicate_credential"
    BLOCKED_TEMPORARILY = "blocked_temporarily"
    BLOCKED_PERMANENTLY = "blocked_permanently"


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object, what: str = "field") -> bytes:
    """Decode base64url (padding optional) as fido2's ``websafe_decode`` does."""
    if type(text) is not str or len(text) > _MAX_JSON:
        raise MalformedCredential(f"{what} is not base64url text")
    try:
        padded = text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4)
        return binascii.a2b_base64(padded)
    except (binascii.Error, ValueError):
        raise MalformedCredential(f"{what} is not base64url text") from None


class ParsedAssertion(NamedTuple):
    raw_id: bytes
    client_data_json: bytes
    authenticator_data: bytes
    signature: bytes
    user_handle: bytes | None


def as_mapping(response: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    """The browser's ``credential.toJSON()`` as a mapping (text is parsed)."""
    if type(response) is dict:
        return response
    if isinstance(response, str | bytes):
        if len(response) > _MAX_JSON:
            raise MalformedCredential("the response is too large")
        try:
            response = json.loads(response)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise MalformedCredential("the response is not JSON") from None
    if not isinstance(response, Mapping):
        raise MalformedCredential("the response is not a JSON object")
    return response


def credential_shape(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The members every ``credential.toJSON()`` has, checked for type before any parser
    reads them (registration and assertion, both engines); returns ``response``."""
    inner = data.get("response")
    raw_id = data.get("rawId")
    if not (type(inner) is dict or isinstance(inner, Mapping)) or type(raw_id) is not str:
        raise MalformedCredential("the response lacks rawId or response")
    if "id" in data and data["id"] != raw_id:
        raise MalformedCredential("id does not match rawId")
    if data.get("type", "public-key") != "public-key":
        raise MalformedCredential("the credential type is not public-key")
    if type(data.get("clientExtensionResults", {})) is not dict:
        raise MalformedCredential("clientExtensionResults is not a JSON object")
    if type(data.get("authenticatorAttachment")) not in (str, type(None)):
        raise MalformedCredential("authenticatorAttachment is not text")
    return inner


def parse_assertion(response: str | bytes | Mapping[str, Any]) -> ParsedAssertion:
    """Read ``credential.toJSON()`` of ``navigator.credentials.get()``."""
    data = as_mapping(response)
    inner = credential_shape(data)
    handle = inner.get("userHandle")
    return ParsedAssertion(
        b64url_decode(data["rawId"], "rawId"),
        b64url_decode(inner.get("clientDataJSON"), "clientDataJSON"),
        b64url_decode(inner.get("authenticatorData"), "authenticatorData"),
        b64url_decode(inner.get("signature"), "signature"),
        None if handle is None else b64url_decode(handle, "userHandle"),
    )


_PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey


@lru_cache(maxsize=4096)
def load_public_key(cose: bytes) -> tuple[int, _PublicKey]:
    """(COSE algorithm, key object) of a stored COSE_Key; cached, as keys are verified often
    and decoding a point costs about as much as a verification."""
    try:
        fields = cbor.decode(cose)
    except Exception:  # fido2's CBOR decoder raises several exception types
        raise ConfigurationError("a stored passkey public key is corrupt") from None
    if not isinstance(fields, dict):
        raise ConfigurationError("a stored passkey public key is corrupt")
    alg = fields.get(3)
    try:
        if alg == -7 and fields.get(1) == 2 and fields.get(-1) == 1:
            x, y = fields[-2], fields[-3]
            numbers = ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
            )
            return alg, numbers.public_key()
        if alg == -8 and fields.get(1) == 1 and fields.get(-1) == 6:
            return alg, ed25519.Ed25519PublicKey.from_public_bytes(fields[-2])
        if alg == -257 and fields.get(1) == 3:
            n, e = int.from_bytes(fields[-1], "big"), int.from_bytes(fields[-2], "big")
            key = rsa.RSAPublicNumbers(e, n).public_key()
            if key.key_size < 2048:
                raise ConfigurationError("RSA passkeys need at least 2048 bits")
            return alg, key
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError("a stored passkey public key is corrupt") from None
    raise ConfigurationError("a stored passkey uses an algorithm securebox does not allow")


def _signature_ok(cose: bytes, message: bytes, signature: bytes) -> bool:
    alg, key = load_public_key(cose)
    try:
        if alg == -7:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            key.verify(signature, message, _ECDSA_SHA256)
        elif alg == -8:
            assert isinstance(key, ed25519.Ed25519PublicKey)
            key.verify(signature, message)
        else:
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(signature, message, _PKCS1, _SHA256)
    except InvalidSignature:
        return False
    return True


def client_data(raw: bytes) -> dict[str, Any]:
    """``clientDataJSON`` as a JSON object, read as fido2 reads it (strict UTF-8: no
    byte-order mark, no UTF-16)."""
    try:
        client = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise MalformedCredential("clientDataJSON is not UTF-8 JSON") from None
    if type(client) is not dict:
        raise MalformedCredential("clientDataJSON is not a JSON object")
    return client


def client_data_for_fido2(raw: bytes) -> dict[str, Any]:
    """:func:`client_data`, refused unless its ``challenge`` is text, before python-fido2
    reads it: fido2 decodes the challenge with ``bytes(value)``, so a number there allocates
    that many bytes (``"challenge": 9000000000`` took 9 GB; found by the differential fuzz
    test)."""
    client = client_data(raw)
    if type(client.get("challenge")) is not str:
        raise MalformedCredential("clientDataJSON has no challenge text")
    return client


def _auth_header(auth: bytes) -> tuple[int, int]:
    """(flags, counter) of ``authenticatorData``, refused unless it has fido2's structure:
    37 bytes, then attested credential data (AT flag) and a CBOR extension map (ED flag),
    then nothing."""
    if len(auth) < 37:
        raise MalformedCredential("authenticatorData is too short")
    flags = auth[32]
    if len(auth) != 37 or flags & _FLAG_AT_ED:
        try:  # the rare long form: fido2's own parser decides what is well-formed
            AuthenticatorData(auth)
        except FIDO2_PARSE_ERRORS:
            raise MalformedCredential("authenticatorData is malformed") from None
    return flags, int.from_bytes(auth[33:37], "big")


def caller_checks(
    client: Mapping[str, Any], flags: int, top_origins: frozenset[str]
) -> PasskeyFailure | None:
    """The checks python-fido2 leaves to its caller, made the same way after both engines
    (registration and assertion):

    * ``crossOrigin`` (WebAuthn Level 3, section 7.1 step 10 and section 7.2 step 13): absent
      or ``false``, unless the relying party allows embedding by a top-level origin;
    * ``topOrigin`` (the steps after): only with ``crossOrigin: true``, and one of the
      relying party's ``top_origins`` (a browser that does not send it is refused);
    * the backup flags (section 6.1.3): BS (backed up) without BE (backup eligible) is not a
      state a genuine authenticator reports.
    """
    cross = client.get("crossOrigin", False)
    top = client.get("topOrigin")
    if cross is not False or top is not None:
        if cross is not True or not top_origins:
            return PasskeyFailure.CROSS_ORIGIN
        if type(top) is not str or top not in top_origins:
            return PasskeyFailure.WRONG_TOP_ORIGIN
    if flags & _FLAG_BS and not flags & _FLAG_BE:
        return PasskeyFailure.BAD_FLAGS
    return None


class Checked(NamedTuple):
    failure: PasskeyFailure | None
    flags: int
    counter: int


def check_assertion(
    parsed: ParsedAssertion,
    *,
    rp_id_hash: bytes,
    origins: frozenset[str],
    challenge: bytes,
    require_uv: bool,
    public_key: bytes | None,
    top_origins: frozenset[str] = frozenset(),
) -> Checked:
    """The checks of ``Fido2Server.authenticate_complete`` (module docstring), in its order,
    then :func:`caller_checks`. ``public_key`` is the COSE key of the credential named by
    ``rawId`` (``None``: unknown).
    """
    client = client_data(parsed.client_data_json)
    auth = parsed.authenticator_data
    flags, counter = _auth_header(auth)
    sent = client.get("challenge")
    origin = client.get("origin")
    if client.get("type") != "webauthn.get":
        return Checked(PasskeyFailure.WRONG_TYPE, flags, counter)
    if type(origin) is not str or origin not in origins:
        return Checked(PasskeyFailure.WRONG_ORIGIN, flags, counter)
    if not isinstance(sent, str) or not hmac.compare_digest(
        b64url_decode(sent, "challenge"), challenge
    ):
        return Checked(PasskeyFailure.WRONG_CHALLENGE, flags, counter)
    if not hmac.compare_digest(auth[:32], rp_id_hash):
        return Checked(PasskeyFailure.WRONG_RP_ID, flags, counter)
    if not flags & _FLAG_UP:
        return Checked(PasskeyFailure.NO_USER_PRESENCE, flags, counter)
    if require_uv and not flags & _FLAG_UV:
        return Checked(PasskeyFailure.MISSING_UV, flags, counter)
    if public_key is None:
        return Checked(PasskeyFailure.UNKNOWN_CREDENTIAL, flags, counter)
    message = auth + hashlib.sha256(parsed.client_data_json).digest()
    if not _signature_ok(public_key, message, parsed.signature):
        return Checked(PasskeyFailure.BAD_SIGNATURE, flags, counter)
    return Checked(caller_checks(client, flags, top_origins), flags, counter)


_FIDO2_MESSAGES: Final = (
    ("incorrect type", PasskeyFailure.WRONG_TYPE),
    ("invalid origin", PasskeyFailure.WRONG_ORIGIN),
    ("wrong challenge", PasskeyFailure.WRONG_CHALLENGE),
    ("wrong rp id", PasskeyFailure.WRONG_RP_ID),
    ("user present", PasskeyFailure.NO_USER_PRESENCE),
    ("user verification required", PasskeyFailure.MISSING_UV),
    ("invalid signature", PasskeyFailure.BAD_SIGNATURE),
    ("unknown credential", PasskeyFailure.UNKNOWN_CREDENTIAL),
)


def fido2_failure(exc: ValueError) -> PasskeyFailure:
    """The reason behind one of fido2's ``ValueError`` messages."""
    text = str(exc).lower()
    for needle, reason in _FIDO2_MESSAGES:
        if needle in text:
            return reason
    return PasskeyFailure.INVALID
