"""The forgotten-code link is spent in the same commit that sets the new code and ends
every session (ADR 0023, one commit per user step): through the real app on SQLite, the
library's SQL store sees one commit holding the code, the ended sessions, the audit events
and the flow's compare-and-swap; a failure inside that commit leaves the link usable and
the old code working, so a crash never strands the user with a spent link."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from securebox_auth.audit import AuditEvent
from securebox_auth.errors import ConcurrentUpdate
from securebox_auth.stores.protocols import Change, EndSession, PutCode
from securebox_auth.stores.sql.store import SqlStore
from tests.server.conftest import CODE, identify, submit_code
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
