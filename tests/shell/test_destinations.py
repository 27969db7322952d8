"""One-time codes go only to a verified destination of the principal: SMS/e-mail codes are
offered only to a principal with one on that channel, and a send names one of them (its
key or its value); any other destination is refused with ``UnknownDestination``, the same
refusal whichever destinations exist, and nothing is sent. The first offer of a login
never depends on the user."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth import (
    Channel,
    FixedClock,
    OperationRequest,
    Operator,
    Role,
    Securebox,
)
from securebox_auth.errors import FlowOutOfOrder, UnknownDestination
from securebox_auth.stores.memory import MemoryStore
from tests.shell.portal import (
    CLIENT,
    CODE,
    PHONE,
    T0,
    Phone,
    enrol_users,
    make_box,
    strong_login,
    user,
)


def _box() -> tuple[Securebox, Phone]:
    clock = FixedClock(T0)
    phone = Phone()
    return make_box(MemoryStore(), clock, phone), phone


def test_no_verified_destination_no_sms_offered() -> None:
    box, _ = _box()
    enrol_users(box, 1)  # user 01 verified PHONE
    other = user(2)
    first = box.codes.create_account(Operator("back-office"), other, Role.USER)
    assert box.codes.change_code(CLIENT, "02", first.reveal(), CODE).changed
    assert "sms_otp" in box.enrolled(user(1))
    assert "sms_otp" not in box.enrolled(other)  # a gateway alone is not a destination
    assert box.enrolled(other) == {"confidential_code"}


def test_a_step_up_code_goes_only_to_a_verified_destination() -> None:
    box, phone = _box()
    seed = enrol_users(box, 1)[user(1)]
    clock = box.clock
    assert isinstance(clock, FixedClock)
    clock.advance(timedelta(seconds=30))
    session_id = strong_login(box, user(1), seed, clock)
    request = OperationRequest("payee_management", payee="FR7630006000011234567890189")
    up = box.start_step_up(session_id, request)
    sent_before = len(phone.bodies)
    with pytest.raises(UnknownDestination):
        box.send_step_up_code(
            session_id, up.handle, channel=Channel.SMS, destination="+33699999999"
        )
    assert len(phone.bodies) == sent_before
    for other in ("+33699999999", "", "x" * 400, "sms:+33600000001"):
        with pytest.raises(UnknownDestination) as refused:
            box.send_step_up_code(session_id, up.handle, channel=Channel.SMS, destination=other)
        assert str(refused.value) == "no verified destination of this account matches"
    with pytest.raises((UnknownDestination, FlowOutOfOrder)):  # no e-mail destination
        box.send_step_up_code(session_id, up.handle, channel=Channel.EMAIL, destination=PHONE)
    assert len(phone.bodies) == sent_before  # nothing was sent
    [mine] = box.factors.oob.destinations(user(1))
    assert box.send_step_up_code(session_id, up.handle, channel=Channel.SMS, destination=mine.key)
    clock.advance(timedelta(minutes=1))
    spaced = "+33 6 00 00 00 01"
    assert box.send_step_up_code(session_id, up.handle, channel=Channel.SMS, destination=spaced)
    assert len(phone.bodies) == sent_before + 2
