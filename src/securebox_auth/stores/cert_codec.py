"""Enrolled certificates and certificate challenges to and from stored documents
(re-exported from :mod:`securebox_auth.stores.factor_codecs`, which describes the format);
certificate DER is base64."""

from __future__ import annotations

from typing import Any

from securebox_auth.factors.certificate import CertChallenge, CertCredential
from securebox_auth.stores.codec_base import (
    FORMAT,
    Doc,
    b64_from,
    b64_text,
    read_document,
    time_from,
    time_from_or_none,
    time_text,
    time_text_or_none,
)

__all__ = [
    "cert_challenge_from_dict",
    "cert_challenge_to_dict",
    "cert_credential_from_dict",
    "cert_credential_to_dict",
]


# -- certificates -----------------------------------------------------------------------------


def cert_credential_to_dict(credential: CertCredential) -> dict[str, Any]:
    """The enrolled certificate: its DER (and its intermediates') as base64."""
    return {
        "v": FORMAT,
        "subject": credential.subject,
        "fingerprint": credential.fingerprint,
        "der": b64_text(credential.der),
        "intermediates": [b64_text(d) for d in credential.intermediates],
        "enrolled_at": time_text(credential.enrolled_at),
    }


def cert_credential_from_dict(doc: Doc) -> CertCredential:
    return read_document(
        "certificate",
        doc,
        lambda d: CertCredential(
            subject=str(d["subject"]),
            fingerprint=str(d["fingerprint"]),
            der=b64_from(d["der"]),
            intermediates=tuple(b64_from(i) for i in d["intermediates"]),
            enrolled_at=time_from(d["enrolled_at"]),
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
        "issued_at": time_text(challenge.issued_at),
        "expires_at": time_text(challenge.expires_at),
        "used_at": time_text_or_none(challenge.used_at),
    }


def cert_challenge_from_dict(doc: Doc) -> CertChallenge:
    return read_document(
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
            issued_at=time_from(d["issued_at"]),
            expires_at=time_from(d["expires_at"]),
            used_at=time_from_or_none(d["used_at"]),
        ),
    )
