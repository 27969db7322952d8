"""Child-process code of the shell contention test (``spawn``): each process is a server
worker with its own engine and services, serving its **own** users (distinct principals):
a login with the confidential code, a TOTP code and an out-of-band code (issued, sent,
typed) per round, all processes released together at each round."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from typing import Any, Final

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.errors import ConcurrentUpdate
from securebox_auth.factors.oob import Channel, OobMessage, OobRules
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.factors.totp import TotpCredential, code_at
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.shell.code import ConfidentialCodeService
from securebox_auth.shell.oob import OobService
from securebox_auth.shell.passkeys import PasskeyService
from securebox_auth.shell.totp import TotpService
from securebox_auth.stores.sql.engine import DatabaseSettings, create_engine
from securebox_auth.stores.sql.store import SqlStore

START: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CLIENT: Final = "555000111"
SECRET: Final = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
#: Per round: the TOTP step and the OOB minimum interval both move on.
STEP: Final = timedelta(seconds=31)
OOB_RULES: Final = OobRules(per_user=1000, per_destination=1000)


@dataclass(frozen=True, slots=True)
class Setup:
    url: str
    audit_key: bytes
    pepper: bytes
    app_key: bytes
    wrap_key: bytes
    #: The codes of the users (one-time codes changed already: a plain login).
    codes: dict[str, str] = field(default_factory=dict)
    statement_timeout_ms: int = 0


def principal(worker: int, user: int) -> Principal:
    return Principal.parse(CLIENT, f"{worker}{user:02d}")


def credential() -> TotpCredential:
    return TotpCredential(SECRET, START - timedelta(days=1), confirmed_at=START)


def hasher(setup: Setup) -> Argon2CodeHasher:
    return Argon2CodeHasher(StaticKeyring({"p": setup.pepper}, "p"), PROFILE_TESTING)


def wrapping(setup: Setup) -> StaticKeyring:
    return StaticKeyring({"w": setup.wrap_key}, "w")


@dataclass
class Outbox:
    sent: list[OobMessage] = field(default_factory=list)

    def send(self, message: OobMessage) -> None:
        self.sent.append(message)


@dataclass
class CountingSleep:
    """The retry helper's pause, counted (how often a lost race was tried again)."""

    pauses: int = 0
    slept: float = 0.0

    def __call__(self, seconds: float) -> None:
        self.pauses += 1
        self.slept += seconds
        time.sleep(seconds)


def serve(
    setup: Setup, worker: int, users: int, rounds: int, barrier: Barrier, results: Any
) -> None:
    settings = DatabaseSettings(url=setup.url, statement_timeout_ms=setup.statement_timeout_ms)
    engine = create_engine(settings)
    store = SqlStore(engine, audit_key=setup.audit_key)
    clock = FixedClock(START)
    sleep = CountingSleep()
    rules = LockoutRules(max_failures=100)
    options: dict[str, Any] = {"clock": clock, "lockout_rules": rules, "sleep": sleep}
    codes = ConfidentialCodeService(store, hasher(setup), **options)
    totp = TotpService(store, wrapping(setup), **options)
    oob = OobService(store, hasher(setup), StaticKeyring({"a": setup.app_key}, "a"),
                     rules=OOB_RULES, **options)  # fmt: skip
    outbox = Outbox()
    outcomes: dict[str, int] = {}
    elapsed: list[float] = []
    try:
        for r in range(rounds):
            clock.at = START + STEP * (r + 1)
            barrier.wait(timeout=120)
            began = time.perf_counter()
            for u in range(users):
                who = principal(worker, u)
                for name, call in _calls(setup, codes, totp, oob, outbox, who, clock.at):
                    try:
                        said = "ok" if call() else "refused"
                    except ConcurrentUpdate:
                        said = "conflict"
                    outcomes[f"{name}:{said}"] = outcomes.get(f"{name}:{said}", 0) + 1
            elapsed.append(time.perf_counter() - began)
    finally:
        engine.dispose()
    results.put((worker, outcomes, sleep.pauses, sleep.slept, elapsed))


def _calls(
    setup: Setup,
    codes: ConfidentialCodeService,
    totp: TotpService,
    oob: OobService,
    outbox: Outbox,
    who: Principal,
    now: datetime,
) -> list[tuple[str, Any]]:
    def login() -> bool:
        code = setup.codes[who.key]
        return codes.login(who.client_id.value, who.user_number.value, code).authenticated

    def second() -> bool:
        return totp.verify(who, code_at(credential(), now)).ok

    def sms() -> bool:
        issued = oob.issue(
            who, channel=Channel.SMS, destination="+33 6 12 34 56 78", purpose="login",
            reference="r", gateway=outbox,
        )  # fmt: skip
        if issued.challenge is None:
            return False
        found = re.search(r"\b(\d{6,8})\b", outbox.sent[-1].body)
        assert found is not None
        typed = found.group(1)
        return oob.verify(who, issued.challenge.id, typed, purpose="login", reference="r").ok

    return [("login", login), ("totp", second), ("oob", sms)]


def register(
    setup: Setup, worker: int, task: tuple[str, str, str, Any], barrier: Barrier, results: Any
) -> None:
    """Finish one passkey registration (a principal, its ceremony, the authenticator's
    answer) at the same moment as every other process."""
    engine = create_engine(setup.url)
    store = SqlStore(engine, audit_key=setup.audit_key)
    rp = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
    service = PasskeyService(
        store, rp, StaticKeyring({"a": setup.app_key}, "a"), clock=FixedClock(START)
    )
    client, user, ceremony_id, response = task
    try:
        barrier.wait(timeout=120)
        try:
            result = service.finish_registration(
                Principal.parse(client, user), ceremony_id, response
            )
            said = result.outcome.value if result.reason is None else result.reason
        except ConcurrentUpdate:
            said = "conflict"
    finally:
        engine.dispose()
    results.put((worker, said))
