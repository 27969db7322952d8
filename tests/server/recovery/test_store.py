"""``recovery_flows`` on SQLite and PostgreSQL: a newer claim fails the older flows, and of
concurrent uses of one link (each on its own engine, as two processes) exactly one wins."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from securebox_auth.flows import recovery as core
from securebox_auth.flows.recovery import RecoveryKind, RecoveryState
from securebox_auth.identity import Principal
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.recovery.store import RecoveryStore

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
WHO = Principal.parse("123456789", "01")
LIFE = core.CHALLENGE_LIFETIME * 18


def claimed(store: RecoveryStore, digest: str) -> str:
    flow = core.start_recovery(RecoveryKind.CODE_BY_EMAIL, now=NOW)
    store.create(flow)
    stored = store.get(flow.id)
    assert stored is not None
    moved = core.address_given(flow, now=NOW, link_lifetime=LIFE)
    assert store.claim(stored, moved, WHO, digest, supersede=WHO)
    return flow.id


def test_a_newer_claim_fails_the_older(jobs_url: str) -> None:
    engine = create_engine(jobs_url)
    try:
        store = RecoveryStore(engine)
        first = claimed(store, "a" * 64)
        second = claimed(store, "b" * 64)
        old, new = store.get(first), store.get(second)
        assert old is not None
        assert new is not None
        assert old.flow.state is RecoveryState.FAILED
        assert store.by_token("a" * 64) is None
        assert new.flow.state is RecoveryState.AWAITING_CODE
        assert new.principal == WHO
    finally:
        engine.dispose()


def test_one_of_concurrent_uses_wins(jobs_url: str) -> None:
    engines = [create_engine(jobs_url) for _ in range(4)]
    try:
        stores = [RecoveryStore(e) for e in engines]
        for round_ in range(5):
            digest = f"{round_:064d}"
            claimed(stores[0], digest)
            results: list[bool] = []
            barrier = threading.Barrier(len(stores))

            def use(
                store: RecoveryStore, digest: str = digest, results: list[bool] = results
            ) -> None:
                stored = store.by_token(digest)
                assert stored is not None
                done = core.finish(
                    core.challenge_answered(stored.flow, now=NOW, passed=True), now=NOW
                )
                barrier.wait()  # noqa: B023 (joined below, in this round)
                results.append(store.move(stored, done))

            threads = [threading.Thread(target=use, args=(s,)) for s in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(results) == [False, False, False, True]
            assert stores[0].by_token(digest) is None
    finally:
        for e in engines:
            e.dispose()


def test_expired_flows_are_purged(jobs_url: str) -> None:
    engine = create_engine(jobs_url)
    try:
        store = RecoveryStore(engine)
        first = claimed(store, "c" * 64)
        assert store.purge(NOW + LIFE - core.CHALLENGE_LIFETIME) == 0
        assert store.purge(NOW + LIFE + core.CHALLENGE_LIFETIME) == 1
        assert store.get(first) is None
    finally:
        engine.dispose()
