"""FactorService.issue_oob on SQLite: the challenge and both send logs are stored in one
commit before the file outbox gets the message, and the throttle holds across services."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.factors.oob import Channel, OobRules, keyed_destination_key
from securebox_auth.identity import Principal
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.base import USER_SENDS
from securebox_auth.shell.factors import FactorService
from securebox_auth.shell.gateways import FileOutbox
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import PutAccount
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from tests.support import NOW

P = Principal.parse("123456789", "01")
AUDIT_KEY = bytes(range(32))


def test_issue_oob_on_sqlite(
    sqlite_url: str, hasher: Argon2CodeHasher, keyring: StaticKeyring, tmp_path: Path
) -> None:
    engine = create_engine(sqlite_url)
    try:
        store = SqlStore(engine, audit_key=AUDIT_KEY)
        store.commit([PutAccount(P, 0, Account(P, Role.USER, NOW))], [])
        outbox = FileOutbox(tmp_path / "outbox.jsonl")
        rules = OobRules(per_user=2, min_interval=timedelta(0))

        def service(at: timedelta) -> FactorService:
            clock = FixedClock(NOW + at)
            return FactorService(store, clock=clock, hasher=hasher, keys=keyring, oob_rules=rules)

        def issue(at: timedelta) -> str | None:
            result = service(at).issue_oob(
                P,
                channel=Channel.EMAIL,
                destination="Jeanne.Martin@example.com",
                purpose="login",
                reference="attempt-1",
                gateway=outbox,
            )
            return result.challenge.id if result.ok and result.challenge else result.reason

        first = issue(timedelta(0))
        second = issue(timedelta(seconds=5))
        assert issue(timedelta(seconds=10)) == "throttled_user"
        assert [m["reference"] for m in outbox.messages()] == [first, second]
        assert {item for item, _ in store.factor_states(P, fc.OOB)} == {first, second}
        item = keyed_destination_key(keyring, Channel.EMAIL, "jeanne.martin@example.com")
        for key in (USER_SENDS, item):
            log = store.get_factor_state(P, fc.OOB_SENDS, key)
            assert log is not None
            assert len(fc.send_log_from_dict(log.value).sent) == 2
        audit = list(store.audit_log())
        assert [s.event.outcome for s in audit] == ["success", "success", "refused"]
        assert verify_audit_chains(AUDIT_KEY, store).total == 3
    finally:
        engine.dispose()


def test_a_missing_account_is_answered_alike_on_sqlite(
    sqlite_url: str, hasher: Argon2CodeHasher, keyring: StaticKeyring, tmp_path: Path
) -> None:
    """No existence oracle on a SQL store: the unknown principal's challenge and send logs
    are stored (no account row needed), the answers match, nothing is sent to it."""
    unknown = Principal.parse("987654321", "01")
    engine = create_engine(sqlite_url)
    try:
        store = SqlStore(engine, audit_key=AUDIT_KEY)
        store.commit([PutAccount(P, 0, Account(P, Role.USER, NOW))], [])
        outbox = FileOutbox(tmp_path / "outbox.jsonl")
        service = FactorService(store, clock=FixedClock(NOW), hasher=hasher, keys=keyring)
        answers = [
            service.issue_oob(
                principal,
                channel=Channel.SMS,
                destination="+33 6 12 34 56 78",
                purpose="login",
                reference="attempt-1",
                gateway=outbox,
            )
            for principal in (P, unknown)
        ]
        assert [(a.ok, a.reason, a.retry_after) for a in answers] == [(True, None, None)] * 2
        assert len(outbox.messages()) == 1
        assert len(store.factor_states(unknown, fc.OOB)) == 1
        assert len(store.factor_states(unknown, fc.OOB_SENDS)) == 2
        audit = list(store.audit_log())
        assert [s.event.outcome for s in audit] == ["success", "refused"]
    finally:
        engine.dispose()
