"""CAP cards and CAP challenges to and from stored documents (re-exported from
:mod:`securebox_auth.stores.factor_codecs`, which describes the format). A card holds the
issuer's wrapped key references and a keyed digest of the PAN, never a key."""

from __future__ import annotations

from typing import Any

from securebox_auth.factors.cap_card import CapCard
from securebox_auth.factors.cap_request import CapChallenge
from securebox_auth.stores.codec_base import (
    FORMAT,
    Doc,
    read_document,
    time_from,
    time_from_or_none,
    time_text,
    time_text_or_none,
)

__all__ = [
    "cap_card_from_dict",
    "cap_card_to_dict",
    "cap_challenge_from_dict",
    "cap_challenge_to_dict",
]


# -- CAP cards and challenges ----------------------------------------------------------------


def cap_card_to_dict(card: CapCard) -> dict[str, Any]:
    return {"v": FORMAT, "card": card.to_dict()}


def cap_card_from_dict(doc: Doc) -> CapCard:
    return read_document("CAP card", doc, lambda d: CapCard.from_dict(d["card"]))


def cap_challenge_to_dict(challenge: CapChallenge) -> dict[str, Any]:
    return {
        "v": FORMAT,
        "challenge_id": challenge.challenge_id,
        "subject": challenge.subject,
        "card_id": challenge.card_id,
        "value": challenge.value,
        "purpose": challenge.purpose,
        "digest": challenge.digest,
        "issued_at": time_text(challenge.issued_at),
        "expires_at": time_text(challenge.expires_at),
        "used_at": time_text_or_none(challenge.used_at),
    }


def cap_challenge_from_dict(doc: Doc) -> CapChallenge:
    return read_document(
        "CAP challenge",
        doc,
        lambda d: CapChallenge(
            challenge_id=str(d["challenge_id"]),
            subject=str(d["subject"]),
            card_id=str(d["card_id"]),
            value=str(d["value"]),
            purpose=str(d["purpose"]),
            digest=None if d["digest"] is None else str(d["digest"]),
            issued_at=time_from(d["issued_at"]),
            expires_at=time_from(d["expires_at"]),
            used_at=time_from_or_none(d["used_at"]),
        ),
    )
