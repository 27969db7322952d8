"""Code that runs in child processes of the concurrency and crash tests.

Started with the ``spawn`` method: each child imports this module afresh and builds its own
engine, store and services from plain values (URL, keys), as a server process would.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from typing import Any, Final

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Role
from securebox_auth.entitlements.model import CompanyScope, DocumentScope, Operation, Rights
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.errors import ConcurrentUpdate, NotPermitted
from securebox_auth.identity import ClientId, Principal, Siren, UserNumber
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.policy.session import without_grant
from securebox_auth.shell.code import ConfidentialCodeService
from securebox_auth.stores.protocols import PutSession
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore

#: The instant every lockout test runs at (a frozen clock: blocks never expire mid-test).
FROZEN: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Setup:
    """What a child needs to act like one of the server's processes."""

    url: str
    audit_key: bytes
    pepper: bytes
    proof_key: bytes


def hasher(setup: Setup) -> Argon2CodeHasher:
    return Argon2CodeHasher(StaticKeyring({"k1": setup.pepper}, "k1"), PROFILE_TESTING)


def proofs(setup: Setup) -> KeyedCompanyProofs:
    return KeyedCompanyProofs(StaticKeyring({"p1": setup.proof_key}, "p1"))


def lockout_rules(kind: str) -> LockoutRules:
    """``counting``: no block within the test; ``blocking``: the usual five failures."""
    if kind == "counting":
        return LockoutRules(max_failures=100)
    return LockoutRules(max_failures=5)


@dataclass(frozen=True, slots=True)
class Task:
    """One contended step: every worker does it at the same time, after the barrier."""

    kind: str  # "change_code" | "accept" | "consume" | "wrong_logins"
    round: int
    args: tuple[Any, ...]


def race(setup: Setup, worker: int, tasks: list[Task], barrier: Barrier, results: Any) -> None:
    """Run ``tasks``; before each, wait until every worker is ready."""
    engine = create_engine(setup.url)
    store = SqlStore(engine, audit_key=setup.audit_key)
    codes = ConfidentialCodeService(store, hasher(setup))
    entitlements = EntitlementService(store, hasher(setup), company_proofs=proofs(setup))
    try:
        for task in tasks:
            barrier.wait(timeout=120)
            results.put((task.kind, task.round, worker, _run(task, worker, codes, entitlements)))
    finally:
        engine.dispose()


def _run(
    task: Task, worker: int, codes: ConfidentialCodeService, entitlements: EntitlementService
) -> str:
    store = codes.store
    # A service gives up with ConcurrentUpdate after many lost races in a row (8 processes on
    # one record): nothing was changed, as a refusal; the user may submit again.
    if task.kind == "change_code":
        client, user, one_time, new_codes = task.args
        try:
            return codes.change_code(client, user, one_time, new_codes[worker]).outcome.value
        except ConcurrentUpdate:
            return "gave_up"
    if task.kind == "accept":
        sessions, client, invitation = task.args
        try:
            entitlements.accept_invitation(sessions[worker], ClientId(client), invitation)
        except NotPermitted:
            return "refused"
        except ConcurrentUpdate:
            return "gave_up"
        return "accepted"
    if task.kind == "consume":
        (session_id,) = task.args
        while True:
            found = store.get_session(session_id)
            if found is None or not found.value.grants:
                return "refused"
            grant = found.value.grants[0]
            consumed = AuditEvent.make(
                datetime.now(UTC),
                "grant.consumed",
                actor=grant.principal.key,
                subject=session_id,
                outcome="success",
                details={"worker": str(worker)},
            )
            try:
                store.commit(
                    [PutSession(session_id, found.version, without_grant(found.value, grant))],
                    [consumed],
                )
            except ConcurrentUpdate:
                continue  # read again: the grant is gone, or still there
            return "consumed"
    if task.kind == "wrong_logins":
        client, user, wrong, count, rules = task.args
        frozen = ConfidentialCodeService(
            store, codes.hasher, clock=FixedClock(FROZEN), lockout_rules=lockout_rules(rules)
        )
        outcomes: list[str] = []
        while len(outcomes) < count:  # count completed attempts: a given-up one changed nothing
            try:
                outcomes.append(frozen.login(client, user, wrong).outcome.value)
            except ConcurrentUpdate:
                continue
        return ",".join(outcomes)
    raise AssertionError(task.kind)  # pragma: no cover


def administer(setup: Setup, session: str, client: str, start: int, marker: str) -> None:
    """The crash test's child: add users and change their rights, one after the other,
    until it is killed. Writes ``marker`` once it has started working."""
    engine = create_engine(setup.url)
    store = SqlStore(engine, audit_key=setup.audit_key)
    service = EntitlementService(store, hasher(setup), company_proofs=proofs(setup))
    rng = random.Random(start)
    sub = store.get_subscription(ClientId(client))
    assert sub is not None
    companies = sorted(sub.value.companies)
    n = start
    with open(marker, "w") as out:
        out.write(str(os.getpid()))
    while True:
        user = Principal(ClientId(client), UserNumber(f"{n % 10_000:04d}"))
        service.add_user(session, user, Role.USER, _rights(rng, companies))
        service.set_rights(session, user, _rights(rng, companies))
        n += 1
        time.sleep(0)


def _rights(rng: random.Random, companies: list[Siren]) -> Rights:
    chosen = frozenset(rng.sample(companies, rng.randint(1, len(companies))))
    return Rights(
        CompanyScope(chosen=chosen),
        DocumentScope.all(),
        frozenset({Operation.VIEW, *rng.sample([Operation.DOWNLOAD, Operation.SHARE], 1)}),
    )
