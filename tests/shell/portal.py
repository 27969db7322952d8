"""A portal for the entry-point tests: the tutorial's policy, one user with a changed code
and a confirmed TOTP, and an SMS "phone" that keeps the last code."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from securebox_auth import (
    PROFILE_TESTING,
    CodeAnswer,
    DerivedKeys,
    FixedClock,
    OobMessage,
    Operator,
    Policy,
    Principal,
    Role,
    Securebox,
    TotpAnswer,
    load_policy,
    totp_code_at,
)
from securebox_auth.factors.oob import Channel
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.totp import TotpCredential
from securebox_auth.stores.protocols import AuthStore
from tests.support import verify_destination

T0: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CODE: Final = "47120938"
#: The verified phone of every user (:func:`enrol_users`).
PHONE: Final = "+33600000001"
CLIENT: Final = "123456789"
POLICY_TEXT: Final = """
version = 1
name = "portal"

[operation.payee_management]
methods = ["confidential_code", "sms_otp", "cap_sign", "passkey_uv"]
single_use = true
linking = "payee"

[operation.sepa_instant_transfer]
methods = ["cap_sign", "passkey_uv"]
single_use = true
linking = "amount_payee"

[operation.account_access]
sensitive = false
"""
MASTER: Final = "m1:" + "5a" * 32


def portal_policy() -> Policy:
    path = Path(tempfile.mkdtemp()) / "portal.toml"
    path.write_text(POLICY_TEXT, encoding="utf-8")
    return load_policy(path)


class Phone:
    def __init__(self) -> None:
        self.code = ""
        self.bodies: list[str] = []

    def send(self, message: OobMessage) -> None:
        self.bodies.append(message.body)
        self.code = message.body.split()[1]


def make_box(
    store: AuthStore, clock: FixedClock, phone: Phone, relying_party: RelyingParty | None = None
) -> Securebox:
    return Securebox.from_policy(
        portal_policy(),
        store=store,
        keys=DerivedKeys.from_hex(MASTER),
        clock=clock,
        gateways={"sms": phone},
        argon2=PROFILE_TESTING,
        relying_party=relying_party,
    )


def user(n: int) -> Principal:
    return Principal.parse(CLIENT, f"{n:02d}")


def enrol_users(box: Securebox, count: int) -> dict[Principal, str]:
    """Users 01..count with code :data:`CODE`, a confirmed TOTP and (with an SMS gateway)
    the verified phone :data:`PHONE`; their TOTP seeds."""
    seeds: dict[Principal, str] = {}
    for n in range(1, count + 1):
        who = user(n)
        if n == 1:
            first = box.codes.create_subscription(Operator("back-office"), who)
        else:
            first = box.codes.create_account(Operator("back-office"), who, Role.USER)
        changed = box.codes.change_code(CLIENT, who.user_number.value, first.reveal(), CODE)
        assert changed.changed
        totp = box.enrol_first_totp(Operator("back-office"), who)
        assert box.confirm_totp(who, totp_code_at(totp.credential, box.now()))
        seeds[who] = totp.credential.secret
    clock = box.clock
    if "sms" in box.gateways and isinstance(clock, FixedClock):
        # codes go only to verified destinations: each user's phone was verified two
        # hours ago (its enrolment send is out of the throttle window now)
        now = clock.now()
        clock.at = now - timedelta(hours=2)
        for who in seeds:
            verify_destination(box, who, Channel.SMS, PHONE)
        clock.at = now
    return seeds


def totp_now(secret: str, clock: FixedClock) -> str:
    return totp_code_at(TotpCredential(secret, created_at=T0), clock.now())


def strong_login(box: Securebox, who: Principal, secret: str, clock: FixedClock) -> str:
    """Code, then TOTP (first access): the session id."""
    page = box.start_login(CLIENT, who.user_number.value)
    page = box.answer_login(page.handle, CodeAnswer(CODE))
    if page.session_id is None:
        page = box.answer_login(page.handle, TotpAnswer(totp_now(secret, clock)))
    assert page.session_id is not None, page.explain()
    return page.session_id


__all__ = ["T0", "Phone", "enrol_users", "make_box", "strong_login", "user"]
