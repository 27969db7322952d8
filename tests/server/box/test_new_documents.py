"""The count of new documents: exact under the scan, "at least" beyond it, from the index."""

from __future__ import annotations

from datetime import timedelta

from securebox_auth.entitlements.model import Operation
from securebox_auth.stores.sql.database import Database
from securebox_server.box.new_documents import NEWEST_SINCE, bound_time, count_new
from tests.server.box.conftest import C2, CLIENT, World


def test_count_is_bounded_and_says_so(box_world: World) -> None:
    since = box_world.clock.now()
    box_world.clock.advance(timedelta(minutes=1))
    for _ in range(3):
        box_world.publish_sample()
    box_world.publish_sample(type_="tax-notice", companies=(C2,))
    db = box_world.documents.db
    now = box_world.clock.now()
    everything = box_world.box.entitlements.visible(box_world.principal, Operation.VIEW)
    payroll = box_world.box.entitlements.visible(box_world.collaborator, Operation.VIEW)
    assert count_new(db, everything, since, now).count == 4
    assert count_new(db, payroll, since, now).count == 3
    assert count_new(db, everything.only(C2), since, now).count == 1
    assert count_new(db, everything, None, now).count == 0
    assert count_new(db, everything, box_world.clock.now(), now).count == 0
    bounded = count_new(db, everything, since, now, scan=2)
    assert bounded.count == 2
    assert bounded.at_least


def test_a_document_past_its_validity_is_not_new(box_world: World) -> None:
    """Expired by the clock, not yet by the expiry job: the list no longer shows it, so
    the count leaves it out too."""
    since = box_world.clock.now()
    box_world.clock.advance(timedelta(minutes=1))
    box_world.publish_sample(type_="tax-notice")  # valid 30 days
    box_world.publish_sample()  # a payslip: valid 180 days
    everything = box_world.box.entitlements.visible(box_world.principal, Operation.VIEW)
    db, now = box_world.documents.db, box_world.clock.now()
    assert count_new(db, everything, since, now).count == 2
    later = now + timedelta(days=30)
    assert count_new(db, everything, since, later - timedelta(seconds=1)).count == 2
    assert count_new(db, everything, since, later).count == 1


def test_the_query_reads_the_publication_index(box_world: World) -> None:
    if box_world.kind != "sqlite":
        return
    db = Database(box_world.documents.engine)
    params = (CLIENT.value, bound_time(db, box_world.clock.now()), 500)
    plan = " ".join(str(r[-1]) for r in db.fetch("EXPLAIN QUERY PLAN " + NEWEST_SINCE, params))
    assert "ix_box_documents_published" in plan
    assert "TEMP B-TREE" not in plan  # no sort: the index gives the order
