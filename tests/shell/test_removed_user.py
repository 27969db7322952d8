"""A user an administrator removes keeps no session, on any path (ASVS 5.0 7.4.2: the
sessions of a disabled account end): the removal's commit ends every live session of the
user and sets the ``not_before`` watermark; and no factor (NIST SP 800-63B §6.4): the same
commit erases them, so the number can go to a new person who inherits nothing. Each
store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from securebox_auth import (
    PROFILE_TESTING,
    Channel,
    CodeAnswer,
    DerivedKeys,
    FixedClock,
    LoginState,
    OobAnswer,
    OperationRequest,
    Operator,
    Principal,
    Rights,
    Role,
    Securebox,
    TotpAnswer,
    from_toml,
    totp_code_at,
)
from securebox_auth.errors import NotAuthenticated
from securebox_auth.stores import factor_kinds as fk
from securebox_auth.stores.protocols import AuthStore
from tests.shell.portal import (
    CLIENT,
    CODE,
    MASTER,
    PHONE,
    POLICY_TEXT,
    T0,
    Phone,
    enrol_users,
    strong_login,
    totp_now,
    user,
)
from tests.support import verify_destination

ADMIN, LEAVER = user(1), user(2)
NEW_CODE = "58301926"
#: What a person enrols or proves, listed here (not the library's list, which is tested).
PERSONAL = (
    fk.TOTP, fk.RECOVERY, fk.PASSKEYS, fk.CAP_CARD, fk.CERTIFICATE, fk.OOB_DESTINATION,
    fk.SECRET_ANSWERS, fk.RENEWAL, fk.OOB_SENDS,
)  # fmt: skip
OTHER_PHONE = "+33600000002"
PAYEE = OperationRequest("payee_management", payee="FR7630006000011234567890189")
#: The portal's policy, with strong authentication at every login (a login is left half
#: done) and the administration of users allowed after it.
POLICY = POLICY_TEXT + (
    "\n[renewal]\nevery_login = true\n"
    '\n[operation.entitlements_management]\nmethods = ["confidential_code", "totp"]\n'
)
#: The same, with codes by SMS at login too (what the previous holder's phone could serve).
LOGIN_BY_SMS = POLICY + '\n[login]\nmethods = ["confidential_code", "totp", "sms_otp"]\n'


def _portal(
    store: AuthStore, policy: str
) -> tuple[Securebox, FixedClock, Phone, dict[Principal, str]]:
    """The portal on ``store``: the administrator and the leaver enrolled (code, TOTP,
    phone); the TOTP seeds."""
    clock, phone = FixedClock(T0), Phone()
    box = Securebox.from_policy(
        from_toml(policy),
        store=store,
        keys=DerivedKeys.from_hex(MASTER),
        clock=clock,
        gateways={"sms": phone},
        argon2=PROFILE_TESTING,
    )
    return box, clock, phone, enrol_users(box, 2)


def test_a_removed_user_keeps_no_session_on_any_path(contract_store: AuthStore) -> None:
    box, clock, phone, seeds = _portal(contract_store, POLICY)
    clock.advance(timedelta(minutes=1))
    admin = strong_login(box, ADMIN, seeds[ADMIN], clock)
    clock.advance(timedelta(seconds=31))
    leaver = strong_login(box, LEAVER, seeds[LEAVER], clock)
    # a payee approved and not yet executed, a second device, and a login half done
    up = box.start_step_up(leaver, PAYEE)
    sms = box.send_step_up_code(leaver, up.handle, channel=Channel.SMS, destination=PHONE)
    up = box.prove_step_up(leaver, up.handle, OobAnswer(sms, phone.code))
    up = box.prove_step_up(leaver, up.handle, CodeAnswer(CODE))
    assert up.ready
    leaver = up.session_id
    clock.advance(timedelta(seconds=31))
    other_device = strong_login(box, LEAVER, seeds[LEAVER], clock)
    clock.advance(timedelta(seconds=31))
    half = box.start_login(CLIENT, LEAVER.user_number.value)
    half = box.answer_login(half.handle, CodeAnswer(CODE))
    assert half.session_id is None

    box.entitlements.remove_user(admin, LEAVER)

    paths: dict[str, Callable[[str], object]] = {
        "touch": box.touch,
        "assertion": lambda s: box.assertion(s, audience="payments-api"),
        "start a step-up": lambda s: box.start_step_up(s, PAYEE),
        "recovery codes": box.generate_recovery_codes,
        "a new destination": lambda s: box.begin_destination(
            s, channel=Channel.SMS, destination=PHONE
        ),
        "enrolment": lambda s: box.enrolling(s, ["totp"]),
    }
    for session_id in (leaver, other_device):
        for name, path in paths.items():
            with pytest.raises(NotAuthenticated):  # noqa: PT012 (the message names the path)
                path(session_id)
                pytest.fail(f"{name} still works for a removed user")
    with pytest.raises(NotAuthenticated):
        box.execute(leaver, up.handle)  # the payee approved before the removal
    assert box.sessions_of(LEAVER) == []
    # the login completed after the removal opens nothing
    clock.advance(timedelta(seconds=31))
    done = box.answer_login(half.handle, TotpAnswer(totp_now(seeds[LEAVER], clock)))
    assert done.session_id is None
    # the administrator's own session is untouched
    assert box.touch(admin).principal == ADMIN
    ended = [e for e in box.audit_log() if e.event.action == "session.end_all"]
    assert [dict(e.event.details) for e in ended] == [{"count": "2", "reason": "user_removed"}]


def test_a_removed_users_factors_are_erased_and_the_next_holder_enrols_afresh(
    contract_store: AuthStore,
) -> None:
    """The removal's commit erases what the person enrolled (NIST SP 800-63B §6.4): the TOTP
    seed, the recovery codes, the verified phone, the record of their last strong
    authentication. The administrator can then give the number to a new person, who is
    offered nothing of the previous holder's (not a code by SMS to their phone) and enrols
    under the same items; the previous holder's authenticator opens nothing."""
    box, clock, _phone, seeds = _portal(contract_store, LOGIN_BY_SMS)
    clock.advance(timedelta(minutes=1))
    box.generate_recovery_codes(strong_login(box, LEAVER, seeds[LEAVER], clock))
    stored = contract_store.factor_states_of(LEAVER, PERSONAL)
    held = {kind for kind, items in stored.items() if items}
    assert {fk.TOTP, fk.RECOVERY, fk.OOB_DESTINATION, fk.RENEWAL} <= held
    clock.advance(timedelta(seconds=31))
    admin = strong_login(box, ADMIN, seeds[ADMIN], clock)

    box.entitlements.remove_user(admin, LEAVER)

    left = contract_store.factor_states_of(LEAVER, PERSONAL)
    assert left == {kind: [] for kind in PERSONAL}
    assert contract_store.factor_states_of(ADMIN, (fk.TOTP,))[fk.TOTP]  # only theirs
    erased = [e.event for e in box.audit_log() if e.event.action == "factor.erase"]
    assert [(e.subject, dict(e.details)) for e in erased] == [
        (
            LEAVER.key,
            {
                "kinds": " ".join(sorted(held)),
                "count": str(sum(len(i) for i in stored.values())),
                "reason": "user_removed",
            },
        )
    ]
    clock.advance(timedelta(minutes=1))
    box.entitlements.remove_user(admin, LEAVER)  # again: nothing left to erase
    assert len([e for e in box.audit_log() if e.event.action == "factor.erase"]) == 1

    # a new person under the same number: a one-time code, then nothing enrolled
    first = box.entitlements.add_user(admin, LEAVER, Role.USER, Rights())
    number = LEAVER.user_number.value
    assert box.codes.change_code(CLIENT, number, first.reveal(), NEW_CODE).changed
    clock.advance(timedelta(minutes=1))
    page = box.start_login(CLIENT, number)
    page = box.answer_login(page.handle, CodeAnswer(NEW_CODE))
    assert page.state is LoginState.FAILED, page.explain()  # no SMS to the old phone
    assert "no_enrolled_method" in page.explain()
    # they enrol under the same items as the previous holder did
    totp = box.enrol_first_totp(Operator("back-office"), LEAVER)
    assert box.confirm_totp(LEAVER, totp_code_at(totp.credential, box.now()))
    verify_destination(box, LEAVER, Channel.SMS, OTHER_PHONE, clock)
    clock.advance(timedelta(seconds=31))
    page = box.start_login(CLIENT, number)
    page = box.answer_login(page.handle, CodeAnswer(NEW_CODE))
    assert page.state is LoginState.SECOND_FACTOR, page.explain()
    refused = box.answer_login(page.handle, TotpAnswer(totp_now(seeds[LEAVER], clock)))
    assert refused.session_id is None  # the previous holder's authenticator
    clock.advance(timedelta(seconds=31))
    done = box.answer_login(page.handle, TotpAnswer(totp_code_at(totp.credential, box.now())))
    assert done.session_id is not None, done.explain()
