"""Sessions (policy/session.py): facts, derived strength, pure transitions."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from securebox_auth.errors import InvalidTime, MalformedInput
from securebox_auth.factors.methods import FactorCategory
from securebox_auth.policy.model import AcrLevels, SessionRules
from securebox_auth.policy.session import (
    MAX_GRANTS,
    Grant,
    Proof,
    Session,
    expiry,
    open_session,
    session_acr,
    session_amr,
    touch,
    touch_due,
    touch_granularity,
    with_grant,
    with_proofs,
    without_grant,
)

from .support import ALICE, BOB, T0

ACR = AcrLevels()


def _grant(operation: str, who: object = ALICE, at: datetime = T0) -> Grant:
    return Grant(operation, who, None, at, at + timedelta(minutes=5), ("cap_sign",))  # type: ignore[arg-type]


def test_open_session_records_facts_only() -> None:
    s = open_session(ALICE, "web", ["confidential_code", "confidential_code"], T0)
    assert s.proofs == (Proof("confidential_code", T0),)
    assert s.auth_time == s.last_activity == T0
    assert not s.strong
    assert session_acr(s, ACR) == ACR.simple
    assert session_amr(s) == ("pwd",)
    assert s.sca_time() is None
    assert str(s.proofs[0]) == "confidential_code at 2026-01-05T09:00:00+00:00"


def test_strength_and_claims() -> None:
    cap = open_session(ALICE, "web", ["cap_identify"], T0)
    assert cap.strong
    assert session_acr(cap, ACR) == ACR.strong
    assert session_amr(cap) == ("hwk", "pin", "otp", "mfa")
    assert cap.categories() == {FactorCategory.KNOWLEDGE, FactorCategory.POSSESSION}
    passkey = open_session(ALICE, "web", ["passkey_uv"], T0)
    assert session_acr(passkey, ACR) == ACR.phishing_resistant
    assert session_amr(passkey) == ("pop", "user", "mfa")
    recovery = open_session(ALICE, "web", ["recovery_code", "totp"], T0)
    assert not recovery.strong
    assert session_acr(recovery, ACR) == ACR.simple


def test_sca_time_uses_the_kth_latest_category() -> None:
    s = open_session(ALICE, "web", ["confidential_code"], T0)
    later = with_proofs(s, ["totp"], T0 + timedelta(minutes=2))
    assert later.sca_time() == T0  # knowledge at T0, possession at T0+2: strong since T0
    assert later.sca_time(min_categories=1) == T0 + timedelta(minutes=2)
    assert later.sca_time(accepted={"totp"}) is None
    renewed = with_proofs(later, ["confidential_code"], T0 + timedelta(minutes=3))
    assert renewed.sca_time() == T0 + timedelta(minutes=2)
    assert renewed.methods == ("totp", "confidential_code")  # one proof per method
    assert renewed.categories(since=T0 + timedelta(minutes=3)) == {FactorCategory.KNOWLEDGE}


def test_touch_never_goes_back() -> None:
    s = open_session(ALICE, "web", ["cap_identify"], T0)
    assert touch(s, T0 - timedelta(seconds=5)) is s
    moved = touch(s, T0 + timedelta(seconds=5))
    assert moved.last_activity == T0 + timedelta(seconds=5)
    assert moved.auth_time == T0
    assert touch(moved, T0, grants=()).last_activity == moved.last_activity


def test_expiry_boundaries() -> None:
    rules = SessionRules()
    s = open_session(ALICE, "web", ["cap_identify"], T0)
    assert expiry(s, rules, T0 + timedelta(seconds=300)) is None
    assert expiry(s, rules, T0 + timedelta(seconds=301)) == "idle"
    busy = s
    for minute in range(1, 12 * 60 + 1, 4):
        busy = touch(busy, T0 + timedelta(minutes=minute))
    assert expiry(busy, rules, T0 + timedelta(hours=12, seconds=1)) == "lifetime"


def test_grants() -> None:
    s = open_session(ALICE, "web", ["cap_identify"], T0)
    first = _grant("payee_management")
    again = _grant("payee_management", at=T0 + timedelta(seconds=1))
    s2 = with_grant(with_grant(s, first), again)
    assert s2.grants == (again,)  # one grant per operation
    assert without_grant(s2, again).grants == ()
    with pytest.raises(MalformedInput):
        with_grant(s, _grant("payee_management", who=BOB))
    many = s
    for i in range(MAX_GRANTS + 3):
        many = with_grant(many, _grant(f"op{i}"))
    assert len(many.grants) == MAX_GRANTS
    assert many.grants[0].operation == "op3"


def test_sessions_are_frozen() -> None:
    s = open_session(ALICE, "web", ["cap_identify"], T0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.proofs = ()  # type: ignore[misc]
    assert s == Session(ALICE, "web", T0, T0, (Proof("cap_identify", T0),))


@pytest.mark.parametrize(
    ("principal", "channel", "methods", "now", "error"),
    [
        (ALICE, "web", [], T0, MalformedInput),
        (ALICE, "web", ["nope"], T0, MalformedInput),
        (ALICE, "", ["cap_identify"], T0, MalformedInput),
        (ALICE, "w\neb", ["cap_identify"], T0, MalformedInput),
        ("123456789:01", "web", ["cap_identify"], T0, MalformedInput),
        (ALICE, "web", ["cap_identify"], datetime(2026, 1, 1), InvalidTime),
    ],
)
def test_open_session_refuses(
    principal: object, channel: str, methods: list[str], now: datetime, error: type[Exception]
) -> None:
    with pytest.raises(error):
        open_session(principal, channel, methods, now)  # type: ignore[arg-type]


def test_other_time_zones_are_converted() -> None:
    paris = T0.astimezone(ZoneInfo("Europe/Paris"))
    s = open_session(ALICE, "web", ["cap_identify"], paris)
    assert s.auth_time == T0
    assert s.auth_time.tzinfo is UTC


def _bounded_end(gaps: list[int], rules: SessionRules) -> tuple[datetime, datetime]:
    """(last request, first second the session is expired) when each request writes the
    activity only if :func:`touch_due` (ADR 0029); requests ``gaps`` seconds apart."""
    session = open_session(ALICE, "web", ["confidential_code"], T0)
    now = T0
    for gap in gaps:
        now += timedelta(seconds=gap)
        assert expiry(session, rules, now) is None, "ended while a per-request write lives"
        if touch_due(session, rules, now):
            session = touch(session, now)
    end = now
    while expiry(session, rules, end) is None:
        end += timedelta(seconds=1)
    return now, end


@pytest.mark.parametrize("idle", [5, 60])
def test_bounded_touch_never_extends_the_idle_timeout_and_ends_at_most_g_early(
    idle: int,
) -> None:
    rules = SessionRules(
        idle_timeout=timedelta(minutes=idle), absolute_lifetime=timedelta(hours=12)
    )
    g = touch_granularity(rules)
    draw = random.Random(idle)
    for _ in range(30):
        gaps = [draw.choice((1, 3, 7, 14, 15, 16, 59, 61, 120)) for _ in range(40)]
        gaps = [min(gap, idle * 60) for gap in gaps]
        last, end = _bounded_end(gaps, rules)
        per_request_end = last + rules.idle_timeout + timedelta(seconds=1)
        assert end <= per_request_end  # never later than a write per request
        assert end > per_request_end - g  # at most G earlier
