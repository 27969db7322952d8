"""A user an administrator removes keeps no session, on any path (ASVS 5.0 7.4.2: the
sessions of a disabled account end): the removal's commit ends every live session of the
user and sets the ``not_before`` watermark. Each store."""

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
    OobAnswer,
    OperationRequest,
    Securebox,
    TotpAnswer,
    from_toml,
)
from securebox_auth.errors import NotAuthenticated
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

ADMIN, LEAVER = user(1), user(2)
PAYEE = OperationRequest("payee_management", payee="FR7630006000011234567890189")
#: The portal's policy, with strong authentication at every login (a login is left half
#: done) and the administration of users allowed after it.
POLICY = POLICY_TEXT + (
    "\n[renewal]\nevery_login = true\n"
    '\n[operation.entitlements_management]\nmethods = ["confidential_code", "totp"]\n'
)


def test_a_removed_user_keeps_no_session_on_any_path(contract_store: AuthStore) -> None:
    clock, phone = FixedClock(T0), Phone()
    box = Securebox.from_policy(
        from_toml(POLICY),
        store=contract_store,
        keys=DerivedKeys.from_hex(MASTER),
        clock=clock,
        gateways={"sms": phone},
        argon2=PROFILE_TESTING,
    )
    seeds = enrol_users(box, 2)
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
