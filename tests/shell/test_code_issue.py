"""A code issued for a user by someone else ends every session of theirs, in the issue's
commit (ADR 0070), on every store: the portal administrator's and the back office's
``regenerate_code`` and a recovery by card's ``issue_code``. A login under way and a
recovery begun before are overtaken; the user logs in again with the new code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from securebox_auth import (
    PROFILE_TESTING,
    CodeAnswer,
    DerivedKeys,
    FixedClock,
    LoginState,
    Operator,
    Principal,
    Securebox,
    from_toml,
)
from securebox_auth.errors import FlowExpired, NotAuthenticated, NotPermitted
from securebox_auth.shell.account_recovery import AccountRecovery
from securebox_auth.shell.records import sessions_not_before
from securebox_auth.stores.protocols import AuthStore
from tests.shell.counting import CountingStore
from tests.shell.portal import (
    CLIENT,
    CODE,
    MASTER,
    POLICY_TEXT,
    T0,
    enrol_users,
    strong_login,
    user,
)

ADMIN, HOLDER = user(1), user(2)
NEW = "58301926"
#: Strong authentication at every login (a login is left half done), the administration
#: of users allowed after it.
POLICY = POLICY_TEXT + (
    "\n[renewal]\nevery_login = true\n"
    '\n[operation.entitlements_management]\nmethods = ["confidential_code", "totp"]\n'
)


def _box(store: AuthStore) -> tuple[Securebox, FixedClock, dict[Principal, str]]:
    clock = FixedClock(T0)
    box = Securebox.from_policy(
        from_toml(POLICY),
        store=store,
        keys=DerivedKeys.from_hex(MASTER),
        clock=clock,
        argon2=PROFILE_TESTING,
    )
    return box, clock, enrol_users(box, 2)


def _by_administrator(box: Securebox, admin: str) -> str:
    return box.entitlements.regenerate_code(admin, HOLDER).reveal()


def _by_back_office(box: Securebox, admin: str) -> str:
    del admin
    return box.codes.regenerate_code(Operator("back-office"), HOLDER).reveal()


def _by_card_recovery(box: Securebox, admin: str) -> str:
    del admin
    return AccountRecovery(box).issue_code(HOLDER, via="card").reveal()


ISSUERS: dict[str, Callable[[Securebox, str], str]] = {
    "administrator": _by_administrator,
    "back_office": _by_back_office,
    "card_recovery": _by_card_recovery,
}


@pytest.mark.parametrize("issuer", sorted(ISSUERS))
def test_a_code_issued_by_someone_else_ends_every_session(
    contract_store: AuthStore, issuer: str
) -> None:
    box, clock, seeds = _box(contract_store)
    clock.advance(timedelta(minutes=1))
    admin = strong_login(box, ADMIN, seeds[ADMIN], clock)
    clock.advance(timedelta(seconds=31))
    first = strong_login(box, HOLDER, seeds[HOLDER], clock)
    clock.advance(timedelta(seconds=31))
    second = strong_login(box, HOLDER, seeds[HOLDER], clock)
    clock.advance(timedelta(seconds=31))
    half = box.answer_login(box.start_login(CLIENT, "02").handle, CodeAnswer(CODE))
    assert half.session_id is None  # a login under way: its second factor next
    recovery_begun = clock.now()
    clock.advance(timedelta(seconds=31))
    before = len(list(box.audit_log()))

    letter = ISSUERS[issuer](box, admin)

    assert box.sessions_of(HOLDER) == []
    for session in (first, second):
        with pytest.raises(NotAuthenticated):
            box.touch(session)
    box.touch(admin)  # the issuer's own session lives
    written = [s.event for s in list(box.audit_log())[before:]]
    (ended,) = [e for e in written if e.action == "session.end_all"]
    assert ended.subject == HOLDER.key
    assert dict(ended.details)["count"] == "2"
    assert sessions_not_before(box.store, HOLDER) == clock.now()
    with pytest.raises(FlowExpired, match="overtaken"):  # a recovery begun before the issue
        AccountRecovery(box).reset_code(HOLDER, NEW, via="email", begun_at=recovery_begun)
    # the user comes back with the letter: a new code, then a session
    clock.advance(timedelta(seconds=31))
    assert box.codes.change_code(CLIENT, "02", letter, NEW).changed
    page = box.start_login(CLIENT, "02")
    page = box.answer_login(page.handle, CodeAnswer(NEW))
    assert page.state is LoginState.SECOND_FACTOR


@pytest.mark.parametrize("issuer", sorted(ISSUERS))
def test_the_code_and_the_end_of_the_sessions_are_one_commit(
    contract_store: AuthStore, issuer: str
) -> None:
    """Never a new code with the old sessions alive (a process dying between two commits):
    one commit writes both."""
    counting = CountingStore(contract_store)
    box, clock, seeds = _box(counting.as_store())
    clock.advance(timedelta(minutes=1))
    admin = strong_login(box, ADMIN, seeds[ADMIN], clock)
    clock.advance(timedelta(seconds=31))
    strong_login(box, HOLDER, seeds[HOLDER], clock)
    clock.advance(timedelta(seconds=31))
    _, commits = counting.counted(lambda: ISSUERS[issuer](box, admin))
    assert commits == 1
    assert box.sessions_of(HOLDER) == []


def test_a_removed_user_is_sent_no_code(contract_store: AuthStore) -> None:
    """A removed user's number is given again by ``add_user``, which issues its code; an
    administrator cannot send a code to (or unblock) the removed person meanwhile."""
    box, clock, seeds = _box(contract_store)
    clock.advance(timedelta(minutes=1))
    admin = strong_login(box, ADMIN, seeds[ADMIN], clock)
    box.entitlements.remove_user(admin, HOLDER)
    stored = box.store.get_code(HOLDER)
    with pytest.raises(NotPermitted, match="removed"):
        box.entitlements.regenerate_code(admin, HOLDER)
    with pytest.raises(NotPermitted, match="removed"):
        box.entitlements.unblock(admin, HOLDER)
    assert box.store.get_code(HOLDER) == stored
