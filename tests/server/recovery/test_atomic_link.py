"""The forgotten-code link is spent in the same commit that sets the new code and ends
every session (ADR 0023, one commit per user step): through the real app on SQLite (and
the service on SQLite and PostgreSQL), the library's SQL store sees one commit holding
the code, the ended sessions, the audit events and the flow's compare-and-swap; a failure
inside that commit leaves the link usable and the old code working, so a crash never
strands the user with a spent link."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.errors import ConcurrentUpdate, FlowExpired
from securebox_auth.flows import recovery as core
from securebox_auth.flows.recovery import RecoveryKind, RecoveryState
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.stores.protocols import Change, EndSession, PutCode
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.recovery.service import RecoveryService
from securebox_server.recovery.store import RecoveryStore
from securebox_server.settings import Settings
from securebox_server.wiring import build_securebox
from tests.server.conftest import CLIENT, CODE, identify, open_user, submit_code
from tests.server.recovery.conftest import Rig
from tests.server.recovery.test_pages import NEW, ask_link, choose, last_link

Also = Callable[[Any], None] | None


class Commits:
    """Wraps the rig's real SQL store commit: records each call, and makes the first
    ``failures`` calls fail *inside* their transaction, after the caller's own writes (the
    flow's move) ran, as a crash between the two writes would."""

    def __init__(self, store: SqlStore, failures: int = 0) -> None:
        self.real = store.commit
        self.failures = failures
        self.seen: list[tuple[list[Change], list[str], bool]] = []

    def __call__(
        self, changes: Sequence[Change], events: Sequence[AuditEvent], *, also: Also = None
    ) -> None:
        self.seen.append((list(changes), [e.action for e in events], also is not None))
        if self.failures and also is not None:
            self.failures -= 1
            inner = also

            def crash(conn: Any) -> None:
                inner(conn)
                raise ConcurrentUpdate("injected: the process died mid-commit")

            self.real(changes, events, also=crash)
            return
        self.real(changes, events, also=also)


def _install(rig: Rig, monkeypatch: pytest.MonkeyPatch, failures: int = 0) -> Commits:
    store = rig.box.store
    assert isinstance(store, SqlStore)
    commits = Commits(store, failures)
    monkeypatch.setattr(store, "commit", commits)
    return commits


def test_one_commit_spends_the_link_and_sets_the_code(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ASVS 5.0 V2.3.3 (a business operation succeeds entirely or not at all), V6.4.1 (the
    single-use reset link) and V7.4.3 (every session ends with the changed factor): the
    link, the code, the sessions and the audit events are one commit of the library's
    store."""
    identify(rig.client)
    assert submit_code(rig.client).status_code == 303
    assert rig.box.sessions_of(rig.principal)
    ask_link(rig)
    link = last_link(rig)
    commits = _install(rig, monkeypatch)
    assert choose(rig, link).status_code == 200
    resets = [c for c in commits.seen if any(isinstance(x, PutCode) for x in c[0])]
    assert len(resets) == 1, commits.seen
    changes, actions, shared = resets[0]
    assert shared  # the flow's compare-and-swap ran inside this commit
    assert any(isinstance(x, EndSession) for x in changes)
    assert {"recovery.code_reset", "session.end_all"} <= set(actions)
    assert rig.box.sessions_of(rig.principal) == []
    assert rig.box.codes.login("123456789", "01", NEW).authenticated
    assert choose(rig, link, "69204718").status_code == 410  # spent


def test_a_failed_commit_leaves_the_link_usable(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """ASVS 5.0 V2.3.3 (rolled back to the previous correct state) and V16.5.2 (fail
    securely): a commit that fails after the link was moved in it rolls the move back;
    the old code still logs in, the link still opens, and the request that retries after
    the failure completes (on the old code it would have found its link spent: 410)."""
    ask_link(rig)
    link = last_link(rig)
    commits = _install(rig, monkeypatch, failures=10_000)
    with pytest.raises(ConcurrentUpdate):
        rig.recovery.use_link(link, NEW, "en")
    assert commits.seen
    assert all(shared for _, _, shared in commits.seen)
    assert rig.recovery.link(link).principal == rig.principal  # still usable
    assert rig.client.get(f"/recovery/link/{link}").status_code == 200
    assert rig.box.codes.login("123456789", "01", CODE).authenticated
    assert not rig.box.codes.login("123456789", "01", NEW).authenticated
    commits.failures = 1  # one crash, then the retry of the same request
    assert choose(rig, link).status_code == 200
    assert rig.box.codes.login("123456789", "01", NEW).authenticated
    assert choose(rig, link, "69204718").status_code == 410


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A database with the library's and the server's tables, on each SQL engine."""
    name = "server_postgres_url" if request.param == "postgresql" else "server_sqlite_url"
    url: str = request.getfixturevalue(name)
    return url


def test_the_link_survives_a_failed_commit_on_each_database(database_url: str) -> None:
    """ASVS 5.0 V2.3.3 on SQLite and PostgreSQL: the service on the real SQL store, its
    commit failing inside the transaction after the flow moved; the link stays usable
    and the old code works, then one clean commit uses it once."""
    settings = Settings(database_url=database_url, public_url="http://testserver", demo=True)
    clock = FixedClock()
    box = build_securebox(
        settings, clock=clock, argon2=PROFILE_TESTING, keys=DerivedKeys.generate()
    )
    store = box.store
    assert isinstance(store, SqlStore)
    principal, _ = open_user(box)
    service = RecoveryService(box, RecoveryStore(store.engine), b"k" * 32, "http://testserver")
    stored = service.get(service.start(RecoveryKind.CODE_BY_EMAIL).id)
    moved = core.address_given(stored.flow, now=clock.now(), link_lifetime=timedelta(hours=3))
    link = secrets.token_urlsafe(32)
    digest = hmac.new(b"k" * 32, b"recovery-link\n" + link.encode(), hashlib.sha256).hexdigest()
    assert service.store.claim(stored, moved, principal, digest, supersede=principal)
    commits = Commits(store, failures=10_000)
    store.commit = commits  # type: ignore[method-assign]
    try:
        with pytest.raises(ConcurrentUpdate):
            service.use_link(link, NEW, "fr")
        assert service.link(link).principal == principal
        assert box.codes.login(CLIENT, "01", CODE).authenticated
        commits.failures = 0
        assert service.use_link(link, NEW, "fr").state is RecoveryState.DONE
        assert box.codes.login(CLIENT, "01", NEW).authenticated
        with pytest.raises(FlowExpired):
            service.use_link(link, "69204718", "fr")
    finally:
        service.dispatcher.drain()
        store.engine.dispose()
