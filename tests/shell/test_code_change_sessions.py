"""A code changed from one of the user's sessions ends every other session of theirs in the
change's commit (``ConfidentialCodeService.change_code(..., keep_session=)``, ASVS 5.0
7.4.3), on every store: the asking session lives; nothing ends when the change is
refused; without ``keep_session`` the sessions stay (a change at login, no session yet)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth import PROFILE_TESTING, DerivedKeys, FixedClock, Principal, Securebox
from securebox_auth.errors import NotAuthenticated, WeakCode
from securebox_auth.factors.code import ChangeOutcome
from securebox_auth.stores.protocols import AuthStore
from tests.shell.counting import CountingStore
from tests.shell.portal import CLIENT, CODE, MASTER, T0, enrol_users, portal_policy, strong_login
from tests.shell.portal import user as portal_user

WHO = portal_user(1)
NEW = "58301926"


def _sessions(store: AuthStore) -> tuple[Securebox, list[str]]:
    clock = FixedClock(T0)
    box = Securebox.from_policy(
        portal_policy(), store=store, keys=DerivedKeys.from_hex(MASTER), clock=clock,
        argon2=PROFILE_TESTING,
    )  # fmt: skip
    seeds: dict[Principal, str] = enrol_users(box, 1)
    opened = []
    for _ in range(3):
        clock.advance(timedelta(seconds=31))
        opened.append(strong_login(box, WHO, seeds[WHO], clock))
    return box, opened


def test_every_other_session_ends_in_the_changes_commit(contract_store: AuthStore) -> None:
    counting = CountingStore(contract_store)
    box, (first, asking, third) = _sessions(counting.as_store())
    change = box.codes.change_code
    result, commits = counting.counted(lambda: change(CLIENT, "01", CODE, NEW, keep_session=asking))
    assert result.changed
    assert commits == 1
    box.touch(asking)
    for other in (first, third):
        with pytest.raises(NotAuthenticated):
            box.touch(other)
    (ended,) = [s.event for s in box.audit_log() if s.event.action == "session.end_others"]
    assert dict(ended.details) == {"count": "2", "reason": "code_changed"}


def test_a_refused_change_ends_nothing(contract_store: AuthStore) -> None:
    box, opened = _sessions(contract_store)
    wrong = box.codes.change_code(CLIENT, "01", "69204718", NEW, keep_session=opened[0])
    assert wrong.outcome is ChangeOutcome.REJECTED
    with pytest.raises(WeakCode):  # the current code again: refused before anything ends
        box.codes.change_code(CLIENT, "01", CODE, CODE, keep_session=opened[0])
    assert len(box.sessions_of(WHO)) == 3


def test_without_a_session_to_keep_the_sessions_stay(contract_store: AuthStore) -> None:
    box, _ = _sessions(contract_store)
    assert box.codes.change_code(CLIENT, "01", CODE, NEW).changed
    assert len(box.sessions_of(WHO)) == 3


def test_ending_the_other_sessions_is_one_commit(contract_store: AuthStore) -> None:
    """``Securebox.end_others`` (the profile's "end every other session"): one commit, one
    event, the asking session lives."""
    counting = CountingStore(contract_store)
    box, (first, asking, third) = _sessions(counting.as_store())
    count, commits = counting.counted(lambda: box.end_others(WHO, asking))
    assert (count, commits) == (2, 1)
    assert len(box.sessions_of(WHO)) == 1
    box.touch(asking)
    for other in (first, third):
        with pytest.raises(NotAuthenticated):
            box.touch(other)
