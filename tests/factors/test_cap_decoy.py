"""The pure part of decoy CAP challenges (:mod:`securebox_auth.factors.cap_decoy`): whose
a decoy is (an owner no identifier parses to), how it is audited, and when its answer
spends it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from securebox_auth.errors import InvalidIdentifier
from securebox_auth.factors.cap_decoy import DECOY_OWNER, answer_decoy, issue_decoy
from securebox_auth.identity import Principal

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SUBJECT = "123456789:01"


def _decoy(challenge_id: str = "c" * 32, subject: str = SUBJECT):  # type: ignore[no-untyped-def]
    return issue_decoy(
        subject, "no-card", challenge_id=challenge_id, value="12345678", purpose="login",
        now=NOW, lifetime=timedelta(minutes=5),
    )  # fmt: skip


def test_the_decoy_owner_is_no_principal_anyone_can_claim() -> None:
    """ASVS 5.0 6.3.8: a decoy row is never read as a claimed principal's factor: its owner
    is no identifier the client and user formats accept."""
    with pytest.raises(InvalidIdentifier):
        Principal.parse(DECOY_OWNER.client_id.value, DECOY_OWNER.user_number.value)
    with pytest.raises(InvalidIdentifier):
        Principal.parse("123456789", DECOY_OWNER.user_number.value)


def test_a_decoy_is_audited_as_a_decoy() -> None:
    """ASVS 5.0 16.3.1 (authentication events logged): a decoy challenge is audited like a
    real one (``cap.challenge``) with the outcome ``decoy``, for the claimed subject."""
    challenge, event = _decoy()
    assert (event.action, event.outcome, event.subject) == ("cap.challenge", "decoy", SUBJECT)
    assert challenge.expires_at - challenge.issued_at == timedelta(minutes=5)
    assert challenge.digest is None
    assert challenge.used_at is None


def test_a_decoy_answer_spends_only_its_own_unspent_decoy() -> None:
    """ASVS 5.0 6.3.8: the answer to a decoy spends it (as a wrong code spends a real
    challenge); another id, another subject, a spent decoy or an empty slot spend nothing."""
    challenge, _ = _decoy()
    later = NOW + timedelta(seconds=30)
    spent = answer_decoy(challenge, SUBJECT, challenge.challenge_id, later)
    assert spent == replace(challenge, used_at=later)
    assert answer_decoy(spent, SUBJECT, challenge.challenge_id, later) is None
    assert answer_decoy(challenge, "123456789:02", challenge.challenge_id, later) is None
    assert answer_decoy(challenge, SUBJECT, "d" * 32, later) is None
    assert answer_decoy(None, SUBJECT, challenge.challenge_id, later) is None
