"""The demo's subscription and users, written into a fresh database before the server
starts (demo mode only)."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from securebox_auth.clock import FixedClock, SystemClock
from securebox_auth.crypto.hashing import PROFILE_2026, PROFILE_TESTING
from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.factors.oob import Channel, keyed_destination_key
from securebox_auth.factors.totp import code_at as totp_code_at
from securebox_auth.identity import Principal
from securebox_auth.policy.loader import load_policy
from securebox_auth.policy.writer import to_toml
from securebox_auth.shell.monotonic import MonotonicClock
from securebox_auth.shell.oob import ENROL_PURPOSE
from securebox_auth.stores import factor_codecs as fc
from securebox_server.demo_box import seed_box
from securebox_server.demo_cap import seed_cap_card
from securebox_server.demo_certificate import P12_PASSWORD, make_demo_certificate
from securebox_server.settings import DEFAULT_POLICY, Settings, load_settings
from securebox_server.wiring import build_securebox

__all__ = ["DEMO_USERS", "DemoUser", "prepare", "seed"]


@dataclass(frozen=True, slots=True)
class DemoUser:
    client: str
    user: str
    code: str
    what: str


CLIENT: Final = "123456789"
DEMO_USERS: Final = (
    DemoUser(CLIENT, "01", "47120938", "confidential code (strong authentication recent)"),
    DemoUser(CLIENT, "02", "", "one-time code to change at first login, then a TOTP"),
    DemoUser(CLIENT, "03", "58203716", "code, then the 90-day prompt: TOTP (secret below)"),
    DemoUser(CLIENT, "04", "63918274", "CAP card through the virtual reader (PIN below)"),
    DemoUser(CLIENT, "05", "73950264", "code, then a code by SMS or e-mail (see /demo/outbox)"),
)
#: The demo user 05's verified destinations (a French number reserved for fiction by ARCEP).
DEMO_PHONE: Final = "+33639980042"
DEMO_EMAIL: Final = "camille.demo@example.com"


def prepare(home: Path) -> dict[str, str]:
    """The demo's extra settings: a policy that also accepts codes by SMS and e-mail at
    login (the shipped psd2-default, plus those two), and the outbox file that receives
    them (``/demo/outbox`` lists it)."""
    base = load_policy(DEFAULT_POLICY)
    methods = (*base.login.methods, "sms_otp", "email_otp")
    policy = dataclasses.replace(base, login=dataclasses.replace(base.login, methods=methods))
    path = home / "policy.toml"
    path.write_text(to_toml(policy), encoding="utf-8")
    outbox = home / "outbox.jsonl"
    outbox.unlink(missing_ok=True)  # a fresh demo starts with an empty outbox
    return {"SECUREBOX_POLICY": str(path), "SECUREBOX_OUTBOX": str(outbox)}


def _user_with_destinations(settings: Settings, fast: bool) -> list[str]:
    """User 05: a code, a verified phone number and e-mail address, recovery codes.

    The destinations are enrolled the library's way (a code sent there, then confirmed),
    on a clock two hours back so that their sends are out of the hourly throttle window
    when the demo starts. The clock is deliberately behind the shared high-water mark of
    time (ADR 0042) when the server already ran: it is its own mark (not shared)."""
    clock = FixedClock(SystemClock().now() - timedelta(hours=2))
    own = MonotonicClock(clock)
    box = build_securebox(settings, clock=own, argon2=PROFILE_TESTING if fast else PROFILE_2026)
    user = DEMO_USERS[4]
    principal = Principal.parse(CLIENT, user.user)
    one_time = box.codes.create_account(Operator("demo-back-office"), principal, Role.USER)
    box.codes.change_code(CLIENT, user.user, one_time.reveal(), user.code)
    oob = box.factors.oob
    for channel, destination in ((Channel.SMS, DEMO_PHONE), (Channel.EMAIL, DEMO_EMAIL)):
        code = f"{secrets.randbelow(10**oob.rules.digits):0{oob.rules.digits}d}"
        issued = oob.issue(
            principal,
            channel=channel,
            destination=destination,
            purpose=ENROL_PURPOSE,
            reference=keyed_destination_key(oob.keys, channel, destination),
            gateway=box.gateways[channel.value],
            code=code,
        )
        assert issued.challenge is not None
        confirmed = oob.confirm_destination(
            principal, issued.challenge.id, code, channel=channel, destination=destination
        )
        assert confirmed.ok, confirmed.reason
        clock.advance(timedelta(minutes=1))
    recovery = box.factors.recovery.generate(principal).reveal()
    outbox = settings.outbox
    return [
        f"{CLIENT} / {user.user}: code {user.code}, then a code by SMS ({DEMO_PHONE}) or e-mail "
        f"({DEMO_EMAIL}); the messages land in {outbox} and on /demo/outbox",
        f"{CLIENT} / {user.user}: recovery codes (a way back into the account, never a login "
        "factor): " + " ".join(recovery),
    ]


def seed(environ: dict[str, str], *, fast: bool, folder: Path | None = None) -> list[str]:
    """Create the demo users and their digital box (:mod:`securebox_server.demo_box`); the
    lines telling how to log in with each. With ``folder``, also a demo certificate for
    user 01 (its settings are added to ``environ``)."""
    boss = Principal.parse(CLIENT, "01")
    demo_cert = None
    if folder is not None:
        # issued a few hours back: the demo also runs the library on a clock two hours back
        # (user 05's destinations), and the CRLs must already be current then
        demo_cert = make_demo_certificate(folder, boss, datetime.now(UTC) - timedelta(hours=3))
        environ.update(demo_cert.settings)
    settings = load_settings(environ)
    box = build_securebox(settings, argon2=PROFILE_TESTING if fast else PROFILE_2026)
    bank = Operator("demo-back-office")
    letter = box.codes.create_subscription(bank, boss)
    box.codes.change_code(CLIENT, "01", letter.reveal(), DEMO_USERS[0].code)
    box.store.commit([box.factors.renewal_change(boss, "web", box.clock.now())], [])
    lines = [f"{CLIENT} / 01: code {DEMO_USERS[0].code} ({DEMO_USERS[0].what})"]
    if demo_cert is not None:
        box.factors.put_state(
            boss, fc.CERTIFICATE, "default", fc.cert_credential_to_dict(demo_cert.credential)
        )
        lines.append(
            f"{CLIENT} / 01: or the certificate {folder}/demo-01.p12 (password {P12_PASSWORD};"
            " key and certificate also as demo-01.key/.pem): load it into a SoftHSM2 token"
            " and start `securebox token agent` (docs/certificates-login.md, the demo)"
        )
    lines.append(
        "passkeys: log in strongly (01 with the certificate, or 03 with code and TOTP),"
        " then 'Add a passkey' on the home page (browsers allow passkeys on"
        " http://localhost, not on an IP address)"
    )
    for user in ("02", "03"):
        principal = Principal.parse(CLIENT, user)
        one_time = box.codes.create_account(bank, principal, Role.USER)
        totp = box.enrol_first_totp(bank, principal)
        box.confirm_totp(principal, totp_code_at(totp.credential, box.clock.now()))
        secret = totp.secret()
        if user == "03":
            box.codes.change_code(CLIENT, user, one_time.reveal(), DEMO_USERS[2].code)
            lines.append(f"{CLIENT} / 03: code {DEMO_USERS[2].code}, then TOTP {secret}")
        else:
            lines.append(f"{CLIENT} / 02: one-time code {one_time.reveal()}, then TOTP {secret}")
    cap_user = DEMO_USERS[3]
    cap = seed_cap_card(box, settings, bank, Principal.parse(CLIENT, cap_user.user), cap_user.code)
    if cap is not None:
        lines.append(cap)
    if settings.outbox is not None:
        lines.extend(_user_with_destinations(settings, fast))
    lines.extend(seed_box(settings, box, fast=fast))
    lines.append(
        "Sensitive operations (after login, links on the home page): /payees, /transfers/new, "
        "/batches/new, /cheque-books/new, /entitlements, /orders; within 5 minutes of a "
        "code + TOTP login (user 03) a cheque-book order needs no other proof; payees, "
        "transfers and batches ask a CAP reader or a passkey each time"
    )
    return lines
