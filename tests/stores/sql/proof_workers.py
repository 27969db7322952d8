"""Child-process code of the company-proof concurrency test (``spawn``: each child imports
this module afresh and builds its own engine, store and service from plain values)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from typing import Any, Final

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.errors import AttemptsBlocked, ConcurrentUpdate, WrongProof
from securebox_auth.identity import Siren
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.stores.protocols import AuthStore
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore

#: Every attempt happens at this instant (blocks never expire mid-test).
AT: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
NEW_COMPANY: Final = Siren("552100554")
WRONG: Final = "AAAA-BBBB-CCCC-DDDD"


@dataclass(frozen=True, slots=True)
class Setup:
    url: str
    audit_key: bytes
    pepper: bytes
    proof_key: bytes


@dataclass(frozen=True, slots=True)
class Task:
    """``last_try``: one wrong proof per worker; ``counting``: ``count`` wrong proofs each.
    ``sessions[w]`` is worker ``w``'s session of the principal under attack."""

    kind: str
    round: int
    sessions: tuple[str, ...]
    count: int = 1


def rules(kind: str) -> LockoutRules:
    return LockoutRules(max_failures=100 if kind == "counting" else 5)


def service(setup: Setup, store: AuthStore, kind: str) -> EntitlementService:
    return EntitlementService(
        store,
        Argon2CodeHasher(StaticKeyring({"k1": setup.pepper}, "k1"), PROFILE_TESTING),
        company_proofs=proofs(setup),
        clock=FixedClock(AT),
        lockout_rules=rules(kind),
    )


def proofs(setup: Setup) -> KeyedCompanyProofs:
    return KeyedCompanyProofs(StaticKeyring({"p1": setup.proof_key}, "p1"))


def attempt(entitlements: EntitlementService, session: str) -> str:
    """One wrong proof, submitted again after a ConcurrentUpdate (nothing was checked or
    counted then): ``wrong`` (checked and counted) or ``blocked`` (neither)."""
    while True:
        try:
            entitlements.add_company(session, NEW_COMPANY, "New", WRONG)
        except WrongProof:
            return "wrong"
        except AttemptsBlocked:
            return "blocked"
        except ConcurrentUpdate:
            continue
        return "added"  # pragma: no cover - a wrong proof never adds


def race(setup: Setup, worker: int, tasks: list[Task], barrier: Barrier, results: Any) -> None:
    engine = create_engine(setup.url)
    store = SqlStore(engine, audit_key=setup.audit_key)
    services = {kind: service(setup, store, kind) for kind in ("last_try", "counting")}
    try:
        for task in tasks:
            barrier.wait(timeout=120)
            session = task.sessions[worker]
            outcomes = [attempt(services[task.kind], session) for _ in range(task.count)]
            results.put((task.kind, task.round, worker, ",".join(outcomes)))
    finally:
        engine.dispose()
