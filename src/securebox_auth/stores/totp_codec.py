"""The stored form of a TOTP credential: its seed wrapped, bound to its owner and place.

A TOTP seed must be read back to compute codes, so it cannot be hashed: it is **wrapped**
with authenticated encryption by a :class:`~securebox_auth.crypto.keys.WrappingKeys` provider
(AES-256-GCM for :class:`~securebox_auth.crypto.keys.StaticKeyring`). The associated data binds the
ciphertext to the principal, the factor item and the key id, so a wrapped seed copied to
another user's row (or another item) does not open. Format 2::

    {"v": 2, "seed": {"alg": "A256GCM", "kid": "<key id>", "sealed": "<base64url>"},
     "created_at": ..., "algorithm": ..., "digits": ..., "period": ...,
     "confirmed_at": ..., "last_step": ...}

A replacement waiting for its first code is kept beside the confirmed credential, under
``"pending"``: a document of the same format (its seed wrapped for the same principal and
item), which the confirmation makes the credential; until then the confirmed seed works.

Format 1 (before issue 11) stored the base32 ``secret`` in clear. It is still **read**, so
existing enrolments keep working, and :func:`totp_needs_rewrap` tells the shell to write the
credential back wrapped (:class:`~securebox_auth.shell.factors.FactorService` does so at the
next attempt, successful or not); format 1 is never written.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from securebox_auth.crypto.keys import WrappingKeys
from securebox_auth.errors import MalformedInput, SecureboxError
from securebox_auth.factors.hotp import decode_seed
from securebox_auth.factors.totp import TotpCredential
from securebox_auth.identity import Principal
from securebox_auth.stores.codec_base import integer_from

__all__ = [
    "CLEAR_FORMAT",
    "PENDING",
    "WRAPPED_FORMAT",
    "pending_of",
    "totp_from_dict",
    "totp_needs_rewrap",
    "totp_to_dict",
    "totp_used",
    "with_pending",
]

#: The legacy format with the seed in clear: read, never written.
CLEAR_FORMAT: Final = 1
WRAPPED_FORMAT: Final = 2
#: The key of a replacement waiting for its first code, in a credential's document.
PENDING: Final = "pending"
_ALG: Final = "A256GCM"
_AAD: Final = b"securebox/totp-seed/v1\x00"


def _aad(principal: Principal, item: str, key_id: str) -> bytes:
    parts = (principal.key, item, key_id)
    return _AAD + b"\x00".join(p.encode("utf-8") for p in parts)


def _seed_bytes(secret: str) -> bytes:
    return decode_seed(secret)


def _seed_text(seed: bytes) -> str:
    return base64.b32encode(seed).decode("ascii").rstrip("=")


def _time_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _from_time(text: object) -> datetime:
    if not isinstance(text, str):
        raise MalformedInput("a stored time is text")
    return datetime.fromisoformat(text)


def totp_to_dict(
    credential: TotpCredential, *, keys: WrappingKeys, principal: Principal, item: str
) -> dict[str, Any]:
    """The credential with its seed wrapped under ``keys``' current key, bound to
    ``principal`` and ``item`` (the factor item it is stored under)."""
    key_id = keys.current_key_id
    sealed = keys.wrap(key_id, _seed_bytes(credential.secret), _aad(principal, item, key_id))
    return {
        "v": WRAPPED_FORMAT,
        "seed": {
            "alg": _ALG,
            "kid": key_id,
            "sealed": base64.urlsafe_b64encode(sealed).decode("ascii"),
        },
        "created_at": credential.created_at.isoformat(),
        "algorithm": credential.algorithm,
        "digits": credential.digits,
        "period": credential.period,
        "confirmed_at": _time_or_none(credential.confirmed_at),
        "last_step": credential.last_step,
    }


def totp_used(doc: Mapping[str, Any], credential: TotpCredential) -> dict[str, Any]:
    """``doc`` after a verification of ``credential``, which was read from it: the
    confirmation time and the last step accepted moved, the sealed seed kept as it is (a
    verification never changes the seed: no unwrap, no new wrap). Only for a document
    :func:`totp_needs_rewrap` accepts as it is; the caller checks that."""
    return {
        **doc,
        "confirmed_at": _time_or_none(credential.confirmed_at),
        "last_step": credential.last_step,
    }


def _secret(doc: Mapping[str, Any], keys: WrappingKeys, principal: Principal, item: str) -> str:
    if doc["v"] == CLEAR_FORMAT:
        return str(doc["secret"])
    seed = doc["seed"]
    if not isinstance(seed, Mapping) or seed["alg"] != _ALG or not isinstance(seed["kid"], str):
        raise MalformedInput("not a stored TOTP credential (seed)")
    key_id = seed["kid"]
    sealed = base64.urlsafe_b64decode(str(seed["sealed"]).encode("ascii"))
    return _seed_text(keys.unwrap(key_id, sealed, _aad(principal, item, key_id)))


def totp_from_dict(
    doc: Mapping[str, Any], *, keys: WrappingKeys, principal: Principal, item: str
) -> TotpCredential:
    """Read a stored credential (format 2, or the legacy clear format 1).

    Raises :class:`~securebox_auth.errors.UnknownKey` when the seed names a key ``keys``
    does not hold, :class:`~securebox_auth.errors.SealedSecretInvalid` when it does not open
    for this principal and item, and :class:`~securebox_auth.errors.MalformedInput` for a
    document that is not a stored credential.
    """
    version = doc.get("v") if isinstance(doc, Mapping) else None
    if type(version) is not int or version not in (CLEAR_FORMAT, WRAPPED_FORMAT):
        raise MalformedInput("not a stored TOTP credential (format)")
    try:
        last_step = doc["last_step"]
        confirmed = doc["confirmed_at"]
        return TotpCredential(
            secret=_secret(doc, keys, principal, item),
            created_at=_from_time(doc["created_at"]),
            algorithm=str(doc["algorithm"]),
            digits=integer_from(doc["digits"]),
            period=integer_from(doc["period"]),
            confirmed_at=None if confirmed is None else _from_time(confirmed),
            last_step=None if last_step is None else integer_from(last_step),
        )
    except SecureboxError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, binascii.Error) as exc:
        raise MalformedInput(f"not a stored TOTP credential ({type(exc).__name__})") from None


def totp_needs_rewrap(doc: Mapping[str, Any], keys: WrappingKeys) -> bool:
    """True for a stored credential in the clear format or wrapped under a key that is no
    longer the current one: the shell writes it back with :func:`totp_to_dict`."""
    if type(doc.get("v")) is not int or doc.get("v") != WRAPPED_FORMAT:
        return True
    seed = doc.get("seed")
    return not isinstance(seed, Mapping) or seed.get("kid") != keys.current_key_id


def with_pending(doc: Mapping[str, Any], pending: Mapping[str, Any] | None) -> dict[str, Any]:
    """``doc`` with ``pending`` (a document of :func:`totp_to_dict`) as its replacement
    waiting for a first code, or without one (``None``)."""
    kept = {k: v for k, v in doc.items() if k != PENDING}
    return kept if pending is None else {**kept, PENDING: dict(pending)}


def pending_of(doc: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The replacement waiting in ``doc``, if any."""
    found = None if doc is None else doc.get(PENDING)
    if found is None:
        return None
    if not isinstance(found, Mapping):
        raise MalformedInput("not a stored TOTP credential (pending)")
    return found
