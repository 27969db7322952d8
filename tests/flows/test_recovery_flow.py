"""The recovery flow core: a Hypothesis walk of events never reaches a grant without a
passed challenge, never passes twice, never moves once finished or expired; answers are
normalised; the linter cites NIST SP 800-63B-4 sec. 3.1.1.2 for secret questions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import FlowExpired, FlowOutOfOrder
from securebox_auth.factors.secret_answers import normalise_answer
from securebox_auth.flows import recovery as core
from securebox_auth.flows.recovery import GRANTS, RecoveryKind, RecoveryState
from securebox_auth.policy import PSD2_DEFAULT
from securebox_auth.policy.lint import lint
from securebox_auth.policy.sections import RecoveryRules

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
LINK = timedelta(hours=3)
EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["address", "pass", "fail", "finish"]),
        st.integers(min_value=0, max_value=4 * 3600),
    ),
    max_size=12,
)


@given(kind=st.sampled_from(list(RecoveryKind)), events=EVENTS)
def test_walk(kind: RecoveryKind, events: list[tuple[str, int]]) -> None:
    flow = core.start_recovery(kind, now=NOW)
    now = NOW
    passed = 0
    for name, seconds in events:
        now += timedelta(seconds=seconds)
        before = flow
        try:
            if name == "address":
                flow = core.address_given(flow, now=now, link_lifetime=LINK)
            elif name in ("pass", "fail"):
                flow = core.challenge_answered(flow, now=now, passed=name == "pass")
                passed += flow.state is RecoveryState.PASSED_CHALLENGE
            else:
                flow = core.finish(flow, now=now)
                assert before.state is RecoveryState.PASSED_CHALLENGE
        except (FlowExpired, FlowOutOfOrder):
            assert before.finished or before.expired(now) or flow is before
            continue
        assert not before.finished
        assert not before.expired(now)
        assert flow.failures <= core.MAX_FAILURES
    assert passed <= 1
    assert flow.grant == GRANTS[kind]
    assert "session" not in flow.grant


def test_an_email_link_lives_the_policy_lifetime() -> None:
    flow = core.start_recovery(RecoveryKind.CODE_BY_EMAIL, now=NOW)
    waiting = core.address_given(flow, now=NOW, link_lifetime=LINK)
    assert waiting.expires_at == NOW + LINK
    with pytest.raises(FlowExpired):
        core.challenge_answered(waiting, now=NOW + LINK, passed=True)
    sms = core.address_given(
        core.start_recovery(RecoveryKind.IDENTIFIER_BY_SMS, now=NOW), now=NOW, link_lifetime=LINK
    )
    assert sms.expires_at == NOW + core.CHALLENGE_LIFETIME


@pytest.mark.parametrize(
    ("raw", "plain"),
    [("  Élodie   MARTIN ", "elodie martin"), ("Ça\tva", "ca va"), ("ﬁle", "file")],
)
def test_answers_are_normalised(raw: str, plain: str) -> None:
    assert normalise_answer(raw) == plain


def test_secret_questions_are_off_and_linted() -> None:
    assert PSD2_DEFAULT.recovery.secret_questions is False
    assert not [f for f in lint(PSD2_DEFAULT) if f.code == "secret-questions"]
    on = replace(PSD2_DEFAULT, recovery=RecoveryRules(secret_questions=True))
    found = [f for f in lint(on) if f.code == "secret-questions"]
    assert found
    assert any("800-63B-4 sec. 3.1.1.2" in c for c in found[0].cites)
