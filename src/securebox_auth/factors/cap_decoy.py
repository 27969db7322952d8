"""Decoy CAP challenges: what a principal without that card gets, at the same cost (ADR 0010).

A Respond challenge for a card that is not bound to the claimed principal (an unknown
client, an unknown user, a user without a card, an inactive account) must not be told
apart from a real one, by its answer or by its time (OWASP ASVS 5.0 V6.3.8). A real
challenge is one committed row and one audit event; its wrong answer spends that row in
the same commit as the lockout. So a decoy is committed too, with the same shape: one row
and one event when it is issued, the row spent with the counted failure when it is
answered. It is never stored where a real one is looked for:

* its row belongs to :data:`DECOY_OWNER`, a principal no client identifier format of the
  library parses (letters only, while the formats are digits), under the kind
  :data:`~securebox_auth.stores.factor_kinds.CAP_DECOY`, so no read of the claimed
  principal's factors ever sees it, and its code is refused whatever it is;
* the row is one of :data:`DECOY_SLOTS` slots chosen by a digest of the challenge id
  (:func:`decoy_slot`) and overwritten by the next decoy of that slot: unknown
  principals, however many, never grow the store past :data:`DECOY_SLOTS` rows.

Pure (P1 of the style guide): the shell reads the slot, calls these functions and commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.factors.cap_request import CapChallenge
from securebox_auth.identity import ClientId, Principal, UserNumber

__all__ = ["DECOY_OWNER", "DECOY_SLOTS", "answer_decoy", "decoy_slot", "issue_decoy"]

#: How many decoy rows there are at most (each overwritten by the next decoy of its slot).
DECOY_SLOTS: Final = 256
#: The owner of the decoy rows: letters only, which no identifier format parses.
DECOY_OWNER: Final = Principal(ClientId("CAPDECOY"), UserNumber("DECOY"))


def decoy_slot(challenge_id: str) -> str:
    """The slot (item) of the decoy row of ``challenge_id``: its issue and its answer both
    find it from the id alone, and random ids spread evenly over the slots."""
    digest = hashlib.sha256(challenge_id.encode()).digest()
    return str(int.from_bytes(digest[:4], "big") % DECOY_SLOTS)


def issue_decoy(
    subject: str,
    card_id: str,
    *,
    challenge_id: str,
    value: str,
    purpose: str,
    now: datetime,
    lifetime: timedelta,
) -> tuple[CapChallenge, AuditEvent]:
    """A decoy challenge for ``card_id`` of ``subject`` (the claimed principal's key) and
    its audit event (``cap.challenge``, outcome ``decoy``: the trail tells it apart, the
    visitor does not)."""
    now = require_aware(now)
    challenge = CapChallenge(
        challenge_id=challenge_id, subject=subject, card_id=card_id, value=value,
        purpose=purpose, digest=None, issued_at=now, expires_at=now + lifetime,
    )  # fmt: skip
    event = AuditEvent.make(
        now,
        "cap.challenge",
        actor="system",
        subject=subject,
        outcome="decoy",
        details={"card": card_id, "purpose": purpose, "challenge_id": challenge_id},
    )
    return challenge, event


def answer_decoy(
    stored: CapChallenge | None, subject: str, challenge_id: str, now: datetime
) -> CapChallenge | None:
    """The decoy ``stored`` in the slot of ``challenge_id``, spent now, when it is the one
    ``subject`` was given and not spent yet (to write back with the counted failure, as a
    real challenge is); ``None`` otherwise (another decoy took the slot, or it was spent)."""
    if stored is None or stored.used_at is not None:
        return None
    if stored.challenge_id != challenge_id or stored.subject != subject:
        return None
    return replace(stored, used_at=require_aware(now))
