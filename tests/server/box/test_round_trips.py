"""What a box page costs the database, counted at the driver (:mod:`.round_trips`), pinned
so that a regression fails: on SQLite and PostgreSQL, in the steady state (PostgreSQL
statements prepared), a home page is five single-statement reads and no transaction (the
standing, the visit marks, the new publications of the one subscription, the catalogue
page, the box rows with their read status), the session's first home page adds the visit's
one-statement write, and a search page is three reads. Through HTTP (SQLite), the
signed-in pages add the session's read (the session with its principal's end-all watermark,
one statement; the home page also lists the user's sessions) and the search form's
senders."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_server.box.reading import BoxReader
from securebox_server.box.search import BoxSearch, ReadFilter
from tests.server.box.conftest import World
from tests.server.box.round_trips import RoundTrips, counting
from tests.server.box.test_pages import PRINCIPAL, Site, site  # noqa: F401 (a fixture)

KEY = bytes(range(32))
WARM = 8  # psycopg prepares a statement at its fifth run


@pytest.fixture
def reader(box_world: World) -> BoxReader:
    for n in range(25):
        box_world.publish_sample(label=f"Statement {n}", body=b"%PDF-1.7 " + bytes([n]))
    box_world.clock.advance(timedelta(hours=1))
    return BoxReader(box_world.documents, box_world.box, box_world.catalogue, cursor_key=KEY)


def _warm(reader: BoxReader, world: World, trips: RoundTrips) -> None:
    who = world.principal
    start = world.clock.now()
    for _ in range(WARM):
        reader.home(who, None, session_start=start)
        reader.search(who, BoxSearch(label="statement"))
        reader.search(who, BoxSearch(read=ReadFilter.UNREAD))
    trips.take()


def test_a_home_page_is_five_reads_and_no_transaction(reader: BoxReader, box_world: World) -> None:
    who = box_world.principal
    reader.home(who, None, session_start=box_world.clock.now())  # a first visit
    box_world.clock.advance(timedelta(days=1))
    with counting(box_world.documents.engine) as trips:
        _warm(reader, box_world, trips)  # a second visit, this session's
        home = reader.home(who, None, session_start=box_world.clock.now())
        assert trips.take() == (5, 0)
        box_world.clock.advance(timedelta(days=1))
        first = reader.home(who, None, session_start=box_world.clock.now())  # a new session
        # and the visit rotated: BEGIN, one upsert returning the previous visit, COMMIT
        assert trips.take() == (8, 2)
    assert home.since is not None
    assert first.since is not None
    assert first.since > home.since
    assert len(home.newest.documents) == 20


def test_a_search_page_is_three_reads_and_no_transaction(
    reader: BoxReader, box_world: World
) -> None:
    who = box_world.principal
    with counting(box_world.documents.engine) as trips:
        _warm(reader, box_world, trips)
        page = reader.search(who, BoxSearch(label="statement"))
        assert trips.take() == (3, 0)
        sight = reader.sight(who)
        unread = reader.search(who, BoxSearch(read=ReadFilter.UNREAD), sight=sight)
        assert trips.take() == (3, 0)
    assert len(page.documents) == 20
    assert len(unread.documents) == 20


def test_the_pages_through_http(site: Site) -> None:  # noqa: F811
    for _ in range(25):
        site.publish()
    browser = site.browser(PRINCIPAL)
    with counting(site.reader.store.engine) as trips:
        for _ in range(WARM):
            assert browser.get("/home").status_code == 200
            assert browser.get("/documents?label=document").status_code == 200
        trips.take()
        assert browser.get("/home").status_code == 200
        assert trips.take() == (6, 0), trips.statements()
        assert browser.get("/documents?label=document").status_code == 200
        assert trips.take() == (5, 0), trips.statements()


def test_a_document_page_reads_the_standing_once(reader: BoxReader, box_world: World) -> None:
    """The view and download decisions share one read of the standing (``check_in``); the
    document's row, its type's title and its first reader are one statement."""
    who = box_world.principal
    newest = reader.home(who, None, session_start=box_world.clock.now()).newest.documents
    with counting(box_world.documents.engine) as trips:
        for _ in range(WARM):
            reader.page(who, newest[0].ref.document_id)
        trips.take()
        page = reader.page(who, newest[0].ref.document_id)
        assert trips.take() == (2, 0)
    assert page.may_download
