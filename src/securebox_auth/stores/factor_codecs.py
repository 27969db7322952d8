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
the TOTP seed wrapped. This module holds the out-of-band, recovery and renewal codecs and
re-exports the others (:mod:`.totp_codec`, :mod:`.passkey_codec`, :mod:`.cap_codec`,
:mod:`.cert_codec`; shared helpers in :mod:`.codec_base`), so every name is importable here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from securebox_auth.factors.oob import Channel, OobChallenge, SendLog
from securebox_auth.factors.recovery import RecoveryCode, RecoverySet
from securebox_auth.stores.cap_codec import (
    cap_card_from_dict,
    cap_card_to_dict,
    cap_challenge_from_dict,
    cap_challenge_to_dict,
)
from securebox_auth.stores.cert_codec import (
    cert_challenge_from_dict,
    cert_challenge_to_dict,
    cert_credential_from_dict,
    cert_credential_to_dict,
)
from securebox_auth.stores.codec_base import (
    FORMAT,
    Doc,
    read_document,
    time_from,
    time_from_or_none,
    time_text,
    time_text_or_none,
)
from securebox_auth.stores.factor_kinds import (
    CAP_CARD,
    CAP_CHALLENGE,
    CAP_DECOY,
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
from securebox_auth.stores.passkey_codec import (
    ceremony_from_dict,
    ceremony_to_dict,
    passkeys_from_dict,
    passkeys_to_dict,
)
from securebox_auth.stores.totp_codec import (
    pending_of,
    totp_from_dict,
    totp_needs_rewrap,
    totp_to_dict,
    totp_used,
    with_pending,
)

__all__ = [
    "CAP_CARD",
    "CAP_CHALLENGE",
    "CAP_DECOY",
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
    "pending_of",
    "recovery_from_dict",
    "recovery_to_dict",
    "renewal_from_dict",
    "renewal_to_dict",
    "send_log_from_dict",
    "send_log_to_dict",
    "totp_from_dict",
    "totp_needs_rewrap",
    "totp_to_dict",
    "totp_used",
    "with_pending",
]


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
        "issued_at": time_text(challenge.issued_at),
        "expires_at": time_text(challenge.expires_at),
        "wrong": challenge.wrong,
        "consumed_at": time_text_or_none(challenge.consumed_at),
    }


def oob_challenge_from_dict(doc: Doc) -> OobChallenge:
    return read_document(
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
            issued_at=time_from(d["issued_at"]),
            expires_at=time_from(d["expires_at"]),
            wrong=int(d["wrong"]),
            consumed_at=time_from_or_none(d["consumed_at"]),
        ),
    )


def send_log_to_dict(log: SendLog) -> dict[str, Any]:
    return {"v": FORMAT, "sent": [time_text(t) for t in log.sent]}


def send_log_from_dict(doc: Doc) -> SendLog:
    return read_document("send log", doc, lambda d: SendLog(tuple(time_from(t) for t in d["sent"])))


# -- recovery codes --------------------------------------------------------------------------


def recovery_to_dict(recovery: RecoverySet) -> dict[str, Any]:
    return {
        "v": FORMAT,
        "codes": [
            {"hint": c.hint, "hash": c.hash, "used_at": time_text_or_none(c.used_at)}
            for c in recovery.codes
        ],
        "created_at": time_text(recovery.created_at),
        "hint_key": recovery.hint_key,
    }


def recovery_from_dict(doc: Doc) -> RecoverySet:
    return read_document(
        "recovery code set",
        doc,
        lambda d: RecoverySet(
            codes=tuple(
                RecoveryCode(str(c["hint"]), str(c["hash"]), time_from_or_none(c["used_at"]))
                for c in d["codes"]
            ),
            created_at=time_from(d["created_at"]),
            hint_key=str(d["hint_key"]),
        ),
    )


# -- the renewal clock -----------------------------------------------------------------------


def renewal_to_dict(last_sca: datetime) -> dict[str, Any]:
    """The last strong authentication of a principal on one channel."""
    return {"v": FORMAT, "last_sca": time_text(last_sca)}


def renewal_from_dict(doc: Doc) -> datetime:
    return read_document("renewal clock", doc, lambda d: time_from(d["last_sca"]))
