"""``securebox demo``: a terminal walk-through of the login flows built so far.

It runs the real core (argon2id with the production profile, the lockout rules, the audit
chain) against the in-memory store, and prints what a portal would show at each step.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime, timedelta

from securebox_auth.cli.serve import port
from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_2026, PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.entitlements.catalogue import DocumentQuery, MemoryCatalogue
from securebox_auth.entitlements.model import (
    CompanyScope,
    DocumentScope,
    Operation,
    Rights,
    Theme,
)
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.errors import NotAuthenticated, StepUpNeeded, WeakCode
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.policy import PSD2_DEFAULT
from securebox_auth.policy.decision import StepUpRequired
from securebox_auth.policy.engine import decide_login
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.code import ConfidentialCodeService, LoginResult
from securebox_auth.shell.entitlements import EntitlementService
from securebox_auth.shell.sessions import SessionService
from securebox_auth.stores.memory import MemoryStore

__all__ = ["register", "run_demo"]

CLIENT = "123456789"


class _Walkthrough:
    """The demo's state and its steps, each printing what a portal would show."""

    def __init__(self, out: Callable[[str], None], *, fast: bool) -> None:
        self.out = out
        self.clock = FixedClock()
        self.store = MemoryStore()
        params = PROFILE_TESTING if fast else PROFILE_2026
        self.hasher = Argon2CodeHasher(StaticKeyring.generate(), params)
        self.codes = ConfidentialCodeService(self.store, self.hasher, clock=self.clock)
        self.proofs = KeyedCompanyProofs(StaticKeyring.generate())
        self.sessions = SessionService(self.store, clock=self.clock)
        self.entitlements = EntitlementService(
            self.store, self.hasher, company_proofs=self.proofs, clock=self.clock
        )
        self.boss = Principal.parse(CLIENT, "01")
        self.clerk = Principal.parse(CLIENT, "02")
        self.acme = Siren.parse("732829320")
        self.payroll, self.tax = Theme("payroll"), Theme("tax")

    def session(self, who: Principal, methods: tuple[str, ...], last_sca: datetime | None) -> str:
        """Ask the policy engine about a login that proved ``methods``; store the session it
        opens and return the identifier the library drew for it."""
        outcome = decide_login(
            PSD2_DEFAULT,
            principal=who,
            channel="web",
            methods=methods,
            last_sca=last_sca,
            now=self.clock.now(),
        )
        self.out(f"    policy: {outcome.decision.headline()}")
        if outcome.session is None:
            raise AssertionError("the demo expects this login to open a session")
        return self.sessions.open(outcome.session)

    def show(self, who: str, result: LoginResult) -> None:
        extra = ""
        if result.blocked_until is not None:
            extra = f" until {result.blocked_until:%H:%M} ({result.alert.value})"
        self.out(f"    {who:<34} -> {result.outcome.value}{extra}")

    def first_login(self) -> None:
        out, codes = self.out, self.codes
        out("1. The bank opens the subscription; user 01 receives a one-time code.")
        first = self.entitlements.open_subscription(Operator("back-office"), self.boss)
        out(f"    one-time code for 01: {first.reveal()} (valid 72 hours, must be changed)")
        self.show("login 01 with the one-time code", codes.login(CLIENT, "01", first.reveal()))
        out("    nothing else is allowed until the code is changed.\n")

        out("2. User 01 chooses a new code; weak codes are refused.")
        for weak in ("12345678", "11112222", "12121212", "31121990"):
            try:
                codes.change_code(CLIENT, "01", first.reveal(), weak)
            except WeakCode as exc:
                out(f"    {weak} refused: {', '.join(exc.reasons)}")
        changed = codes.change_code(CLIENT, "01", first.reveal(), "47120938")
        out(f"    47120938 -> {changed.outcome.value}")
        self.clock.advance(timedelta(minutes=1))
        self.show("login 01 with 47120938", codes.login(CLIENT, "01", "47120938"))
        simple = decide_login(
            PSD2_DEFAULT,
            principal=self.boss,
            channel="web",
            methods=("confidential_code",),
            last_sca=None,
            now=self.clock.now(),
        )
        out("    the policy (psd2-default) on this first access with a code alone:")
        for line in simple.decision.explain().splitlines():
            out(f"      {line}")
        out("    01 completes the login with the CAP reader (card + PIN).")
        out("    (The CAP verifier arrives with its issue; here the session records the proof.)")
        self.boss_session = self.session(self.boss, ("confidential_code", "cap_identify"), None)
        out("")

    def collaborator(self) -> None:
        out, ent = self.out, self.entitlements
        out("3. User 01 adds a company and a collaborator 02, who changes the one-time code.")
        ent.add_theme(self.boss_session, self.payroll)
        ent.add_theme(self.boss_session, self.tax)
        proof = self.proofs.issue(self.acme)
        ent.add_company(self.boss_session, self.acme, "ACME SAS", proof)
        out(f"    company {self.acme.formatted()} added with its proof {proof}")
        rights = Rights(
            CompanyScope.portfolio(),
            DocumentScope(themes=frozenset({self.payroll})),
            frozenset({Operation.VIEW, Operation.DOWNLOAD}),
        )
        clerk_code = ent.add_user(self.boss_session, self.clerk, Role.USER, rights)
        out("    02 may view and download payroll documents of the whole portfolio")
        self.codes.change_code(CLIENT, "02", clerk_code.reveal(), "60397148")
        out("    02 now logs in with 60397148\n")

    def lockout(self) -> None:
        out, codes = self.out, self.codes
        out("4. Someone guesses codes for 02, and for a user 77 who does not exist.")
        for n in range(1, 7):
            self.clock.advance(timedelta(seconds=20))
            self.show(f"attempt {n} on 02", codes.login(CLIENT, "02", f"5038{n:04d}"))
            self.show(f"attempt {n} on 77 (no such user)", codes.login(CLIENT, "77", "50380000"))
        out("    same answers, same argon2id work: nothing tells whether 77 exists;")
        out("    once blocked, no hashing is done at all.")
        self.show("02 with the right code, blocked", codes.login(CLIENT, "02", "60397148"))
        out("")

        out("5. The principal user regenerates a code for 02 (the block is lifted).")
        fresh = self.entitlements.regenerate_code(self.boss_session, self.clerk)
        self.show("login 02 with the new one-time code", codes.login(CLIENT, "02", fresh.reveal()))
        self.show("login 02 with the old code", codes.login(CLIENT, "02", "60397148"))
        out("")

    def documents(self) -> None:
        out, ent = self.out, self.entitlements
        out("6. Who sees which document (the filter a store turns into a query):")
        catalogue = MemoryCatalogue()
        at = self.clock.now()
        client = ClientId(CLIENT)
        catalogue.add(
            [
                DocumentRef(client, self.acme, self.payroll, "pay-2026-01", "Payslips Jan", at),
                DocumentRef(client, self.acme, self.tax, "vat-2026-q1", "VAT return Q1", at),
            ]
        )
        accountant = Principal.parse("555000111", "01")
        ent.open_subscription(Operator("back-office"), accountant)

        def listing(who: Principal) -> str:
            page = catalogue.page(ent.visible(who), DocumentQuery(limit=20))
            return ", ".join(d.document_id for d in page.documents) or "(nothing)"

        out(f"    01 (principal user)        sees {listing(self.boss)}")
        out(f"    02 (payroll only)          sees {listing(self.clerk)}")
        invitation = ent.invite(self.boss_session, accountant, frozenset({self.acme}))
        out(f"    accountant, invited        sees {listing(accountant)} (pending acceptance)")
        accountant_session = self.session(accountant, ("certificate",), None)
        ent.accept_invitation(accountant_session, client, invitation)
        out(f"    accountant, accepted       sees {listing(accountant)}")
        ent.revoke_invitation(self.boss_session, invitation)
        out(f"    accountant, revoked        sees {listing(accountant)}")
        out("")

    def step_up(self) -> None:
        out, ent = self.out, self.entitlements
        out("7. Minutes later, managing entitlements needs a fresh proof (max_age 5 min).")
        self.clock.advance(timedelta(minutes=4))
        old = self.boss_session
        try:
            ent.add_theme(old, Theme("hr"))
            decision: object = None
        except StepUpNeeded as needed:
            decision = needed.decision
        if not isinstance(decision, StepUpRequired):
            raise AssertionError("the demo expects a step-up here")
        out(f"    policy: {decision.headline()}")
        challenge = decision.challenge
        result = self.sessions.step_up(old, challenge, methods=["cap_identify"])
        out(f"    01 steps up with the CAP reader -> {result.decision.kind}")
        out("    the session moved to a new identifier; the old one is dead:")
        self.boss_session = result.session_id
        ent.add_theme(self.boss_session, Theme("hr"))
        out("      new identifier: theme hr added")
        try:
            ent.add_theme(old, Theme("legal"))
        except NotAuthenticated as refused:
            out(f"      old identifier: {refused.code}")
        out("")

    def audit(self) -> None:
        out = self.out
        out("8. The audit trail (who, what, outcome; never a code), chained by HMAC:")
        events = list(self.store.audit_log())
        for sealed in events:
            e = sealed.event
            out(
                f"    #{sealed.sequence:<3} {e.action:<19} {e.subject:<13} {e.outcome:<20} "
                f"{dict(e.details)}"
            )
        verified = verify_audit_chains(self.store.audit_keys, self.store)
        out(
            f"    audit chain verified: {verified.total} events in {len(verified.events)} "
            "chains (one per subscription, and the global one)"
        )


def run_demo(out: Callable[[str], None] = print, *, fast: bool = False) -> int:
    """Run the walk-through, writing lines with ``out``. Returns a process exit status."""
    demo = _Walkthrough(out, fast=fast)
    out("securebox demo: logins and entitlements for a business subscription")
    out(f"  client identifier {CLIENT}; user 01 is the principal user, 02 a collaborator\n")
    demo.first_login()
    demo.collaborator()
    demo.lockout()
    demo.documents()
    demo.step_up()
    demo.audit()
    return 0


def _handle(args: argparse.Namespace) -> int:
    if args.walkthrough or (args.fast and not args.check):
        return run_demo(fast=args.fast)
    try:
        from securebox_server import cli as server_cli  # noqa: PLC0415 - optional extra
    except ImportError:
        print(
            "securebox: error: the demo server needs the server extra:"
            ' pip install "securebox[server]" (or run: securebox demo --walkthrough)',
            file=sys.stderr,
        )
        return 2
    return server_cli.demo(args)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="start the reference server on a fresh demo database"
        " (--walkthrough: the terminal tour)",
    )
    demo.add_argument(
        "--walkthrough", action="store_true", help="the terminal walk-through instead of the server"
    )
    demo.add_argument(
        "--fast",
        action="store_true",
        help="cheap argon2id parameters (tests only); alone, runs the walk-through (CI)",
    )
    demo.add_argument(
        "--check",
        action="store_true",
        help="start the server on a free port, log in over HTTP, stop (exit 0 when it worked)",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    demo.add_argument("--port", type=port, default=8000, help="port (8000)")
    demo.add_argument("--dir", default=None, help="directory for the demo database and key")
    demo.set_defaults(handler=_handle)
