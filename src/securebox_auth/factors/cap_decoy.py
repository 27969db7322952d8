"""Decoy CAP challenges: what a principal without that card gets, at the same cost (ADR 0010).

A Respond challenge for a card that is not bound to the claimed principal (an unknown
client, an unknown user, a user without a card, an inactive account) must not be told
apart from a real one, by its answer or by its time (OWASP ASVS 5.0 V6.3.8). A real
challenge is one new row and one audit event, committed together; its wrong answer spends
that row in the commit of the counted failure. So a decoy is committed the same way: a
new row and one event when it is issued, the row spent with the counted failure when it is
answered. Same SQL too: an insert of a new key (an update of a reused row costs less, by a
measurable fraction of a millisecond on SQLite). It is never stored where a real one is
looked for:

* its row belongs to :data:`DECOY_OWNER`, a principal no client identifier format of the
  library parses (letters only, while the formats are digits), under the kind
  :data:`~securebox_auth.stores.factor_kinds.CAP_DECOY`, so no read of the claimed
  principal's factors ever sees it, and its code is refused whatever it is;
* it is a one-time value like a real challenge: the purge job deletes it once expired
  (:data:`securebox_auth.stores.sql.purge.ONE_TIME_KINDS`), so decoys for invented
  principals take no more room than real challenges asked for a known card holder, which
  anyone who knows the identifiers can ask for too (both bounded by the rate limits times
  the challenge lifetime plus the purge period).

Pure (P1 of the style guide): the shell reads the row, calls these functions and commits.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.factors.cap_request import CapChallenge
from securebox_auth.identity import ClientId, Principal, UserNumber

__all__ = ["DECOY_OWNER", "answer_decoy", "issue_decoy"]

#: The owner of the decoy rows: letters only, which no identifier format parses.
DECOY_OWNER: Final = Principal(ClientId("CAPDECOY"), UserNumber("DECOY"))


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
    """The decoy ``stored`` under ``challenge_id``, spent now, when it is the one
    ``subject`` was given and not spent yet (to write back with the counted failure, as a
    real challenge is); ``None`` otherwise (no such decoy, another subject's, or spent)."""
    if stored is None or stored.used_at is not None:
        return None
    if stored.challenge_id != challenge_id or stored.subject != subject:
        return None
    return replace(stored, used_at=require_aware(now))
