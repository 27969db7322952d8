"""The receivers' feed page read in one statement (:meth:`BoxReader.feed`): the
same events as the store's page, each with its document's row as stored (a deleted one as
its tombstone), pinned at one round trip and no transaction; bounds refused. SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest

from securebox_auth.errors import MalformedInput
from securebox_server.box.model import FeedKind, Status
from securebox_server.box.reading import BoxReader
from tests.server.box.conftest import C1, C2, CLIENT, SENDER, World
from tests.server.box.round_trips import counting

KEY = bytes(range(32))


def test_the_feed_page_and_its_rows_in_one_statement(box_world: World) -> None:
    world = box_world
    reader = BoxReader(world.documents, world.box, world.catalogue, cursor_key=KEY)
    first, second = world.publish_sample(companies=[C1, C2]).document_ids
    third = world.publish_sample().document_ids[0]
    world.documents.delete(second, reason="withdrawn", actor=f"sender/{SENDER}")
    expected = world.documents.feed(CLIENT, after=0, limit=100)
    found = reader.feed(CLIENT, after=0, limit=100)
    assert [event for event, _ in found] == expected
    assert [e.kind for e in expected] == [FeedKind.NEW] * 3 + [FeedKind.DELETED]
    for event, doc in found:
        assert doc is not None
        assert doc == world.documents.get(event.document_id)
    assert [doc.status for _, doc in found if doc is not None] == [
        Status.LIVE,
        Status.DELETED,
        Status.LIVE,
        Status.DELETED,
    ]
    assert {doc.id for _, doc in found if doc is not None} == {first, second, third}
    # a page after a number, and a short one
    assert [e.seq for e, _ in reader.feed(CLIENT, after=2, limit=1)] == [3]
    assert reader.feed(CLIENT, after=4, limit=10) == []
    with counting(world.documents.engine) as trips:
        for _ in range(8):  # PostgreSQL prepares the statement at its fifth run
            reader.feed(CLIENT, after=0, limit=20)
        trips.take()
        reader.feed(CLIENT, after=0, limit=20)
        assert trips.take() == (1, 0)


@pytest.mark.parametrize(("after", "limit"), [(-1, 10), (0, 0), (0, 1001)])
def test_a_page_out_of_bounds_is_refused(box_world: World, after: int, limit: int) -> None:
    reader = BoxReader(box_world.documents, box_world.box, box_world.catalogue, cursor_key=KEY)
    with pytest.raises(MalformedInput):
        reader.feed(CLIENT, after=after, limit=limit)
