"""``securebox demo``: a terminal walk-through of the login flows built so far.

It runs the real core (argon2id with the production profile, the lockout rules, the audit
chain) against the in-memory store, and prints what a portal would show at each step.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta

from securebox_auth.accounts import Operator, Role
from securebox_auth.audit import verify_chain
from securebox_auth.clock import FixedClock
from securebox_auth.code_service import ConfidentialCodeService, LoginResult
from securebox_auth.errors import WeakCode
from securebox_auth.hashing import PROFILE_2026, PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.identity import Principal
from securebox_auth.keys import StaticKeyring
from securebox_auth.stores.memory import MemoryStore

__all__ = ["register", "run_demo"]

CLIENT = "123456789"


def _show(out: Callable[[str], None], who: str, result: LoginResult) -> None:
    extra = ""
    if result.blocked_until is not None:
        extra = f" until {result.blocked_until:%H:%M} ({result.alert.value})"
    out(f"    {who:<34} -> {result.outcome.value}{extra}")


def run_demo(out: Callable[[str], None] = print, *, fast: bool = False) -> int:
    """Run the walk-through, writing lines with ``out``. Returns a process exit status."""
    clock = FixedClock()
    store = MemoryStore()
    hasher = Argon2CodeHasher(StaticKeyring.generate(), PROFILE_TESTING if fast else PROFILE_2026)
    service = ConfidentialCodeService(store, hasher, clock=clock)
    boss = Principal.parse(CLIENT, "01")
    clerk = Principal.parse(CLIENT, "02")

    out("securebox demo: confidential-code login for a business subscription")
    out(f"  client identifier {CLIENT}; user 01 is the principal user, 02 a collaborator\n")

    out("1. The bank opens the subscription; user 01 receives a one-time code.")
    first = service.create_account(Operator("back-office"), boss, Role.PRINCIPAL_USER)
    out(f"    one-time code for 01: {first.reveal()} (valid 72 hours, must be changed)")
    _show(out, "login 01 with the one-time code", service.login(CLIENT, "01", first.reveal()))
    out("    nothing else is allowed until the code is changed.\n")

    out("2. User 01 chooses a new code; weak codes are refused.")
    for weak in ("12345678", "11112222", "12121212", "31121990"):
        try:
            service.change_code(CLIENT, "01", first.reveal(), weak)
        except WeakCode as exc:
            out(f"    {weak} refused: {', '.join(exc.reasons)}")
    changed = service.change_code(CLIENT, "01", first.reveal(), "47120938")
    out(f"    47120938 -> {changed.outcome.value}")
    clock.advance(timedelta(minutes=1))
    _show(out, "login 01 with 47120938", service.login(CLIENT, "01", "47120938"))
    out("")

    out("3. User 01 creates collaborator 02, who changes the one-time code.")
    clerk_code = service.create_account(boss, clerk, Role.USER)
    service.change_code(CLIENT, "02", clerk_code.reveal(), "60397148")
    out("    02 now logs in with 60397148\n")

    out("4. Someone guesses codes for 02, and for a user 77 who does not exist.")
    for attempt in range(1, 7):
        clock.advance(timedelta(seconds=20))
        _show(out, f"attempt {attempt} on 02", service.login(CLIENT, "02", f"5038{attempt:04d}"))
        _show(
            out, f"attempt {attempt} on 77 (no such user)", service.login(CLIENT, "77", "50380000")
        )
    out("    same answers, same argon2id work: nothing tells whether 77 exists;")
    out("    once blocked, no hashing is done at all.")
    _show(out, "02 with the right code, blocked", service.login(CLIENT, "02", "60397148"))
    out("")

    out("5. The principal user regenerates a code for 02 (the block is lifted).")
    fresh = service.regenerate_code(boss, clerk)
    _show(out, "login 02 with the new one-time code", service.login(CLIENT, "02", fresh.reveal()))
    _show(out, "login 02 with the old code", service.login(CLIENT, "02", "60397148"))
    out("")

    out("6. The audit trail (who, what, outcome; never a code), chained by HMAC:")
    events = list(store.audit_log())
    for sealed in events:
        e = sealed.event
        out(
            f"    #{sealed.sequence:<3} {e.action:<16} {e.subject:<13} {e.outcome:<20} "
            f"{dict(e.details)}"
        )
    count = verify_chain(store.audit_key, events)
    out(f"    audit chain verified: {count} events")
    return 0


def _handle(args: argparse.Namespace) -> int:
    return run_demo(fast=args.fast)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser("demo", help="walk through the login flows in the terminal")
    demo.add_argument(
        "--fast", action="store_true", help="cheap argon2id parameters (for tests only)"
    )
    demo.set_defaults(handler=_handle)
