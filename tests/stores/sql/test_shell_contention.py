"""With distinct users, no :class:`~securebox_auth.errors.ConcurrentUpdate` reaches a caller
under eight processes on PostgreSQL (ADR 0017).

Eight OS processes (``spawn``), each a server worker with its own engine and services,
serve their own users: per round and user a login with the confidential code, a TOTP code
and an out-of-band code (issued, sent, typed back), every process released together at each
round. Every commit also writes the store-wide audit chain head, so the processes do
contend. Run with the server's defaults, and with a 150 ms statement timeout (a production
setting that turns a long wait for a lock into a lost race the shell must retry).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections import Counter
from typing import Final

import pytest

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.factors.code import CodeCredential
from securebox_auth.factors.passkeys import RelyingParty
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.base import DEFAULT_ITEM
from securebox_auth.shell.passkeys import REGISTRY, PasskeyService, credential_key
from securebox_auth.shell.totp import TotpService
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import PutAccount, PutCode
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from securebox_auth.testing.authenticator import SoftAuthenticator
from tests.stores.sql import shell_workers as sw
from tests.stores.sql.processes import run_workers

WORKERS: Final = 8
USERS: Final = 2
ROUNDS: Final = 6


def _prepare(setup: sw.Setup, store: SqlStore) -> dict[str, str]:
    """Accounts with a (changed) code and a confirmed TOTP for every worker's users."""
    hasher = sw.hasher(setup)
    totp = TotpService(store, sw.wrapping(setup))
    codes = {}
    for w in range(WORKERS):
        for u in range(USERS):
            who = sw.principal(w, u)
            code = f"{700000 + w * 100 + u}"
            credential = CodeCredential(hasher.hash(who, code), sw.START)
            account = Account(who, Role.USER, sw.START)
            store.commit([PutAccount(who, 0, account), PutCode(who, 0, credential)], [])
            totp.import_credential(who, sw.credential())
            codes[who.key] = code
    return codes


@pytest.mark.slow
@pytest.mark.parametrize("statement_timeout_ms", [0, 150])
def test_no_conflict_reaches_a_caller_with_distinct_users(
    fresh_postgres_url: str, statement_timeout_ms: int
) -> None:
    setup = sw.Setup(
        url=fresh_postgres_url,
        audit_key=secrets.token_bytes(32),
        pepper=secrets.token_bytes(32),
        app_key=secrets.token_bytes(32),
        wrap_key=secrets.token_bytes(32),
        statement_timeout_ms=statement_timeout_ms,
    )
    engine = create_engine(fresh_postgres_url)
    try:
        store = SqlStore(engine, audit_key=setup.audit_key)
        setup = dataclasses.replace(setup, codes=_prepare(setup, store))
        outcomes: Counter[str] = Counter()
        pauses, slept, rounds = 0, 0.0, []
        for _, counted, paused, seconds, elapsed in run_workers(
            sw.serve, lambda w: (setup, w, USERS, ROUNDS), workers=WORKERS, expected=WORKERS
        ):
            outcomes.update(counted)
            pauses, slept = pauses + paused, slept + seconds
            rounds += elapsed
        calls = WORKERS * USERS * ROUNDS
        assert outcomes == {"login:ok": calls, "totp:ok": calls, "oob:ok": calls}, outcomes
        audit = list(store.audit_log())
        assert verify_audit_chains(setup.audit_key, store).total == len(audit)
        rounds.sort()
        print(  # the measurement (pytest -s): how much the shell retried
            f"\nstatement_timeout={statement_timeout_ms}ms: {4 * calls} commits, "
            f"{pauses} retries after a pause ({slept * 1000:.0f} ms asleep in all), "
            f"round per worker median {rounds[len(rounds) // 2] * 1000:.0f} ms, "
            f"max {rounds[-1] * 1000:.0f} ms"
        )
    finally:
        engine.dispose()


@pytest.mark.slow
def test_one_credential_id_is_registered_once_across_processes(fresh_postgres_url: str) -> None:
    """Eight processes finish, at the same moment, the registration of the same credential
    id for eight different principals: exactly one is accepted; the registry names it."""
    setup = sw.Setup(
        url=fresh_postgres_url,
        audit_key=secrets.token_bytes(32),
        pepper=secrets.token_bytes(32),
        app_key=secrets.token_bytes(32),
        wrap_key=secrets.token_bytes(32),
    )
    rp = RelyingParty(id="bank.example", name="Bank", origins=frozenset({"https://bank.example"}))
    shared = secrets.token_bytes(32)
    engine = create_engine(fresh_postgres_url)
    try:
        store = SqlStore(engine, audit_key=setup.audit_key)
        service = PasskeyService(
            store, rp, StaticKeyring({"a": setup.app_key}, "a"), clock=FixedClock(sw.START)
        )
        tasks = []
        for w in range(WORKERS):
            who = sw.principal(w, 0)
            store.commit([PutAccount(who, 0, Account(who, Role.USER, sw.START))], [])
            options, ceremony = service.begin_registration(who, user_name=who.key, display_name="U")
            response = SoftAuthenticator(credential_id=shared).create(options)
            tasks.append((who.client_id.value, who.user_number.value, ceremony.id, response))
        said = dict(
            run_workers(
                sw.register, lambda w: (setup, w, tasks[w]), workers=WORKERS, expected=WORKERS
            )
        )
        assert Counter(said.values()) == {"accepted": 1, "duplicate_credential": WORKERS - 1}
        (winner,) = [w for w, s in said.items() if s == "accepted"]
        owner = store.get_factor_state(REGISTRY, fc.PASSKEY_ID, credential_key(rp.id, shared))
        assert owner is not None
        assert owner.value["principal"] == sw.principal(winner, 0).key
        for w in range(WORKERS):
            found = store.get_factor_state(sw.principal(w, 0), fc.PASSKEYS, DEFAULT_ITEM)
            assert found is not None
            assert len(fc.passkeys_from_dict(found.value).passkeys) == (w == winner)
    finally:
        engine.dispose()
