"""The demo's subscription and users, written into a fresh database before the server
starts (demo mode only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from securebox_auth.crypto.hashing import PROFILE_2026, PROFILE_TESTING
from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.factors.totp import code_at as totp_code_at
from securebox_auth.identity import Principal
from securebox_server.settings import load_settings
from securebox_server.wiring import build_securebox

__all__ = ["DEMO_USERS", "DemoUser", "seed"]


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
)


def seed(environ: dict[str, str], *, fast: bool) -> list[str]:
    """Create the demo users; the lines telling how to log in with each."""
    settings = load_settings(environ)
    box = build_securebox(settings, argon2=PROFILE_TESTING if fast else PROFILE_2026)
    bank = Operator("demo-back-office")
    boss = Principal.parse(CLIENT, "01")
    letter = box.codes.create_subscription(bank, boss)
    box.codes.change_code(CLIENT, "01", letter.reveal(), DEMO_USERS[0].code)
    box.store.commit([box.factors.renewal_change(boss, "web", box.clock.now())], [])
    lines = [f"{CLIENT} / 01: code {DEMO_USERS[0].code} ({DEMO_USERS[0].what})"]
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
    lines.append(
        "Sensitive operations (after login, links on the home page): /payees, /transfers/new, "
        "/batches/new, /cheque-books/new, /entitlements, /orders; within 5 minutes of a "
        "code + TOTP login (user 03) a cheque-book order needs no other proof; payees, "
        "transfers and batches ask a CAP reader or a passkey each time"
    )
    return lines
