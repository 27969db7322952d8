"""Factor states to and from plain JSON documents (what :class:`~securebox_auth.stores.
protocols.PutFactorState` stores).

Each ``*_to_dict`` turns a factor's frozen state value into a JSON object (strings, numbers,
booleans, null, lists, objects) carrying a format number ``"v"``; each ``*_from_dict`` reads
it back into a value equal to the one written (datetimes keep their instant and offset, bytes
are hex, certificate DER is base64). A document that is not one of ours raises
:class:`~securebox_auth.errors.MalformedInput`. The factor kinds and items they are stored
under are the constants below.

No document holds a secret in clear: codes are stored as peppered argon2id hashes,
destinations and PANs as keyed digests, CAP card keys as the issuer's wrapped references, and
the TOTP seed wrapped (:mod:`securebox_auth.stores.totp_codec`, re-exported here).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

from securebox_auth.errors import MalformedInput
from securebox_auth.factors.cap_card import CapCard
from securebox_auth.factors.cap_request import CapChallenge
from securebox_auth.factors.certificate import CertChallenge, CertCredential
from securebox_auth.factors.oob import Channel, OobChallenge, SendLog
from securebox_auth.factors.passkeys import Ceremony, CeremonyKind, Passkey, PasskeySet
from securebox_auth.factors.recovery import RecoveryCode, RecoverySet
from securebox_auth.stores.factor_kinds import (
    CAP_CARD,
    CAP_CHALLENGE,
    CERT_CHALLENGE,
    CERTIFICATE,
    OOB,
    OOB_DESTINATION,
    OOB_SENDS,
    PASSKEY_ID,
    PASSKEYS,
    RECOVERY,
    RENEWAL,
    TOTP,
    WEBAUTHN_CEREMONY,
)
from securebox_auth.stores.totp_codec import totp_from_dict, totp_needs_rewrap, totp_to_dict

__all__ = [
    "CAP_CARD",
    "CAP_CHALLENGE",
    "CERTIFICATE",
    "CERT_CHALLENGE",
    "FORMAT",
    "OOB",
    "OOB_DESTINATION",
    "OOB_SENDS",
    "PASSKEYS",
    "PASSKEY_ID",
    "RECOVERY",
    "RENEWAL",
    "TOTP",
    "WEBAUTHN_CEREMONY",
    "cap_card_from_dict",
    "cap_card_to_dict",
    "cap_challenge_from_dict",
    "cap_challenge_to_dict",
    "ceremony_from_dict",
    "ceremony_to_dict",
    "cert_challenge_from_dict",
    "cert_challenge_to_dict",
    "cert_credential_from_dict",
    "cert_credential_to_dict",
    "oob_challenge_from_dict",
    "oob_challenge_to_dict",
    "passkeys_from_dict",
    "passkeys_to_dict",
    "recovery_from_dict",
    "recovery_to_dict",
    "renewal_from_dict",
    "renewal_to_dict",
    "send_log_from_dict",
    "send_log_to_dict",
    "totp_from_dict",
    "totp_needs_rewrap",
    "totp_to_dict",
]

#: The format number of every document written here.
FORMAT: Final = 1


Doc = Mapping[str, Any]
T = TypeVar("T")


def _time(moment: datetime) -> str:
    return moment.isoformat()


def _time_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _from_time(text: object) -> datetime:
    if not isinstance(text, str):
        raise MalformedInput("a stored time is text")
    return datetime.fromisoformat(text)


def _from_time_or_none(text: object) -> datetime | None:
    return None if text is None else _from_time(text)


def _hex_or_none(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _from_hex_or_none(text: object) -> bytes | None:
    return None if text is None else bytes.fromhex(str(text))


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _from_b64(text: object) -> bytes:
    if not isinstance(text, str):
        raise MalformedInput("stored DER is base64 text")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MalformedInput("stored DER is base64 text") from None


def _read(what: str, doc: Doc, build: Callable[[Doc], T]) -> T:
    """``build(doc)`` for a document of our format; anything else is MalformedInput."""
    if not isinstance(doc, Mapping) or doc.get("v") != FORMAT:
        raise MalformedInput(f"not a stored {what} (format)")
    try:
        return build(doc)
    except MalformedInput:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedInput(f"not a stored {what} ({type(exc).__name__})") from None


# -- TOTP ------------------------------------------------------------------------------------
# In :mod:`securebox_auth.stores.totp_codec`: its seed is wrapped, bound to the principal and
# item, so its functions take the wrapping keys, the principal and the item.

# -- out-of-band codes -----------------------------------------------------------------------


def oob_challenge_to_dict(challenge: OobChallenge) -> dict[str, Any]:
    return {
        "v": FORMAT,
        "id": challenge.id,
        "principal": challenge.principal,
        "channel": challenge.channel.value,
        "purpose": challenge.purpose,
        "reference": challenge.reference,
        "digest": challenge.digest,
        "code_hash": challenge.code_hash,
        "issued_at": _time(challenge.issued_at),
        "expires_at": _time(challenge.expires_at),
        "wrong": challenge.wrong,
        "consumed_at": _time_or_none(challenge.consumed_at),
    }


def oob_challenge_from_dict(doc: Doc) -> OobChallenge:
    return _read(
        "out-of-band challenge",
        doc,
        lambda d: OobChallenge(
            id=str(d["id"]),
            principal=str(d["principal"]),
            channel=Channel(d["channel"]),
            purpose=str(d["purpose"]),
            reference=str(d["reference"]),
            digest=None if d["digest"] is None else str(d["digest"]),
            code_hash=str(d["code_hash"]),
            issued_at=_from_time(d["issued_at"]),
            expires_at=_from_time(d["expires_at"]),
            wrong=int(d["wrong"]),
            consumed_at=_from_time_or_none(d["consumed_at"]),
        ),
    )


def send_log_to_dict(log: SendLog) -> dict[str, Any]:
    return {"v": FORMAT, "sent": [_time(t) for t in log.sent]}


def send_log_from_dict(doc: Doc) -> SendLog:
    return _read("send log", doc, lambda d: SendLog(tuple(_from_time(t) for t in d["sent"])))


# -- recovery codes --------------------------------------------------------------------------


def recovery_to_dict(recovery: RecoverySet) -> dict[str, Any]:
    return {
        "v": FORMAT,
        "codes": [
            {"hint": c.hint, "hash": c.hash, "used_at": _time_or_none(c.used_at)}
            for c in recovery.codes
        ],
        "created_at": _time(recovery.created_at),
        "hint_key": recovery.hint_key,
    }


def recovery_from_dict(doc: Doc) -> RecoverySet:
    return _read(
        "recovery code set",
        doc,
        lambda d: RecoverySet(
            codes=tuple(
                RecoveryCode(str(c["hint"]), str(c["hash"]), _from_time_or_none(c["used_at"]))
                for c in d["codes"]
            ),
            created_at=_from_time(d["created_at"]),
            hint_key=str(d["hint_key"]),
        ),
    )


# -- passkeys and WebAuthn ceremonies --------------------------------------------------------


def _passkey(p: Passkey) -> dict[str, Any]:
    return {
        "credential_id": p.credential_id.hex(),
        "public_key": p.public_key.hex(),
        "algorithm": p.algorithm,
        "name": p.name,
        "created_at": _time(p.created_at),
        "sign_count": p.sign_count,
        "user_verified": p.user_verified,
        "backup_eligible": p.backup_eligible,
        "aaguid": p.aaguid,
        "attestation": p.attestation,
        "last_used_at": _time_or_none(p.last_used_at),
        "revoked_at": _time_or_none(p.revoked_at),
        "suspended_at": _time_or_none(p.suspended_at),
    }


def _passkey_from(d: Doc) -> Passkey:
    return Passkey(
        credential_id=bytes.fromhex(d["credential_id"]),
        public_key=bytes.fromhex(d["public_key"]),
        algorithm=int(d["algorithm"]),
        name=str(d["name"]),
        created_at=_from_time(d["created_at"]),
        sign_count=int(d["sign_count"]),
        user_verified=bool(d["user_verified"]),
        backup_eligible=bool(d["backup_eligible"]),
        aaguid=str(d["aaguid"]),
        attestation=str(d["attestation"]),
        last_used_at=_from_time_or_none(d["last_used_at"]),
        revoked_at=_from_time_or_none(d["revoked_at"]),
        suspended_at=_from_time_or_none(d["suspended_at"]),
    )


def passkeys_to_dict(passkeys: PasskeySet) -> dict[str, Any]:
    return {
        "v": FORMAT,
        "user_handle": passkeys.user_handle.hex(),
        "passkeys": [_passkey(p) for p in passkeys.passkeys],
    }


def passkeys_from_dict(doc: Doc) -> PasskeySet:
    return _read(
        "passkey set",
        doc,
        lambda d: PasskeySet(
            bytes.fromhex(d["user_handle"]), tuple(_passkey_from(p) for p in d["passkeys"])
        ),
    )


def ceremony_to_dict(ceremony: Ceremony) -> dict[str, Any]:
    return {
        "v": FORMAT,
        "id": ceremony.id,
        "kind": ceremony.kind.value,
        "principal": ceremony.principal,
        "challenge": ceremony.challenge.hex(),
        "require_uv": ceremony.require_uv,
        "issued_at": _time(ceremony.issued_at),
        "expires_at": _time(ceremony.expires_at),
        "path": ceremony.path,
        "operation": ceremony.operation,
        "digest": ceremony.digest,
        "nonce": _hex_or_none(ceremony.nonce),
        "consumed_at": _time_or_none(ceremony.consumed_at),
    }


def ceremony_from_dict(doc: Doc) -> Ceremony:
    return _read(
        "WebAuthn ceremony",
        doc,
        lambda d: Ceremony(
            id=str(d["id"]),
            kind=CeremonyKind(d["kind"]),
            principal=str(d["principal"]),
            challenge=bytes.fromhex(d["challenge"]),
            require_uv=bool(d["require_uv"]),
            issued_at=_from_time(d["issued_at"]),
            expires_at=_from_time(d["expires_at"]),
            path=str(d["path"]),
            operation=None if d["operation"] is None else str(d["operation"]),
            digest=None if d["digest"] is None else str(d["digest"]),
            nonce=_from_hex_or_none(d["nonce"]),
            consumed_at=_from_time_or_none(d["consumed_at"]),
        ),
    )


# -- CAP cards and challenges ----------------------------------------------------------------


def cap_card_to_dict(card: CapCard) -> dict[str, Any]:
    return {"v": FORMAT, "card": card.to_dict()}


def cap_card_from_dict(doc: Doc) -> CapCard:
    return _read("CAP card", doc, lambda d: CapCard.from_dict(d["card"]))


def cap_challenge_to_dict(challenge: CapChallenge) -> dict[str, Any]:
    return {
        "v": FORMAT,
        "challenge_id": challenge.challenge_id,
        "subject": challenge.subject,
        "card_id": challenge.card_id,
        "value": challenge.value,
        "purpose": challenge.purpose,
        "digest": challenge.digest,
        "issued_at": _time(challenge.issued_at),
        "expires_at": _time(challenge.expires_at),
        "used_at": _time_or_none(challenge.used_at),
    }


def cap_challenge_from_dict(doc: Doc) -> CapChallenge:
    return _read(
        "CAP challenge",
        doc,
        lambda d: CapChallenge(
            challenge_id=str(d["challenge_id"]),
            subject=str(d["subject"]),
            card_id=str(d["card_id"]),
            value=str(d["value"]),
            purpose=str(d["purpose"]),
            digest=None if d["digest"] is None else str(d["digest"]),
            issued_at=_from_time(d["issued_at"]),
            expires_at=_from_time(d["expires_at"]),
            used_at=_from_time_or_none(d["used_at"]),
        ),
    )


# -- certificates -----------------------------------------------------------------------------


def cert_credential_to_dict(credential: CertCredential) -> dict[str, Any]:
    """The enrolled certificate: its DER (and its intermediates') as base64."""
    return {
        "v": FORMAT,
        "subject": credential.subject,
        "fingerprint": credential.fingerprint,
        "der": _b64(credential.der),
        "intermediates": [_b64(d) for d in credential.intermediates],
        "enrolled_at": _time(credential.enrolled_at),
    }


def cert_credential_from_dict(doc: Doc) -> CertCredential:
    return _read(
        "certificate",
        doc,
        lambda d: CertCredential(
            subject=str(d["subject"]),
            fingerprint=str(d["fingerprint"]),
            der=_from_b64(d["der"]),
            intermediates=tuple(_from_b64(i) for i in d["intermediates"]),
            enrolled_at=_from_time(d["enrolled_at"]),
        ),
    )


def cert_challenge_to_dict(challenge: CertChallenge) -> dict[str, Any]:
    return {
        "v": FORMAT,
        "challenge_id": challenge.challenge_id,
        "client_id": challenge.client_id,
        "user_number": challenge.user_number,
        "nonce": challenge.nonce.hex(),
        "purpose": challenge.purpose,
        "digest": challenge.digest,
        "audience": challenge.audience,
        "issued_at": _time(challenge.issued_at),
        "expires_at": _time(challenge.expires_at),
        "used_at": _time_or_none(challenge.used_at),
    }


def cert_challenge_from_dict(doc: Doc) -> CertChallenge:
    return _read(
        "certificate challenge",
        doc,
        lambda d: CertChallenge(
            challenge_id=str(d["challenge_id"]),
            client_id=str(d["client_id"]),
            user_number=str(d["user_number"]),
            nonce=bytes.fromhex(str(d["nonce"])),
            purpose=str(d["purpose"]),
            digest=None if d["digest"] is None else str(d["digest"]),
            audience=str(d["audience"]),
            issued_at=_from_time(d["issued_at"]),
            expires_at=_from_time(d["expires_at"]),
            used_at=_from_time_or_none(d["used_at"]),
        ),
    )


# -- the renewal clock -----------------------------------------------------------------------


def renewal_to_dict(last_sca: datetime) -> dict[str, Any]:
    """The last strong authentication of a principal on one channel."""
    return {"v": FORMAT, "last_sca": _time(last_sca)}


def renewal_from_dict(doc: Doc) -> datetime:
    return _read("renewal clock", doc, lambda d: _from_time(d["last_sca"]))
