"""Concurrent publications, each on its own engine and store (as separate processes would
be): one set of documents for one idempotency key, and feed numbers without gaps that
commit in order. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import text

from securebox_auth.shell.keys import DerivedKeys
from securebox_server.box.model import Publication
from tests.server.box import publish_workers
from tests.server.box.conftest import C1, C2, CLIENT, World, make_world
from tests.stores.sql.processes import run_workers

WORKERS = 6
R = TypeVar("R")


def _together(world: World, run: Callable[[World, int], R]) -> list[R]:
    """``run`` on ``WORKERS`` worlds of their own, released at once."""
    others = [make_world(world.url, keys=world.keys, seed=False) for _ in range(WORKERS)]
    start = threading.Barrier(WORKERS)

    def one(n: int) -> R:
        start.wait()
        return run(others[n], n)

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            return list(pool.map(one, range(WORKERS)))
    finally:
        for other in others:
            other.documents.engine.dispose()


def test_one_key_published_at_once_gives_one_set_of_documents(box_world: World) -> None:
    def publish(world: World, _: int) -> Publication:
        world.published = 0
        return world.publish_sample(companies=[C1, C2], key="same-key", body=b"same body")

    answers = _together(box_world, publish)
    assert len({a.results for a in answers}) == 1
    assert sum(1 for a in answers if not a.replayed) == 1
    with box_world.documents.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM box_documents")).scalar_one() == 2
        assert conn.execute(text("SELECT count(*) FROM documents")).scalar_one() == 2
    events = box_world.documents.feed(CLIENT, after=0, limit=100)
    assert [e.seq for e in events] == [1, 2]


def test_feed_numbers_have_no_gaps_under_concurrent_publications(box_world: World) -> None:
    def publish(world: World, n: int) -> tuple[str, ...]:
        world.published = 100 * (n + 1)
        ids: list[str] = []
        for _ in range(3):
            ids.extend(world.publish_sample(companies=[C1]).document_ids)
        return tuple(ids)

    published = {doc for ids in _together(box_world, publish) for doc in ids}
    events = box_world.documents.feed(CLIENT, after=0, limit=1000)
    assert [e.seq for e in events] == list(range(1, len(published) + 1))
    assert {e.document_id for e in events} == published
    # every audit chain still verifies
    assert box_world.box.verify_audit(CLIENT.value) > len(published)


@pytest.mark.slow
def test_one_key_published_by_processes_at_once_gives_one_set_of_documents(
    box_url: str,
) -> None:
    master = "m1:" + "5b" * 32
    world = make_world(box_url, keys=DerivedKeys.from_hex(master))
    try:
        answers = run_workers(
            publish_workers.publish_same,
            lambda _: (box_url, master),
            workers=4,
            expected=4,
        )
        assert len({str(results) for results, _ in answers}) == 1
        assert sum(1 for _, replayed in answers if not replayed) == 1
        with world.documents.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM box_documents")).scalar_one() == 2
        assert world.box.verify_audit(CLIENT.value) >= 3
    finally:
        world.documents.engine.dispose()
