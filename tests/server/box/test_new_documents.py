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
    everything = box_world.box.entitlements.visible(box_world.principal, Operation.VIEW)
    payroll = box_world.box.entitlements.visible(box_world.collaborator, Operation.VIEW)
    assert count_new(db, everything, since).count == 4
    assert count_new(db, payroll, since).count == 3
    assert count_new(db, everything.only(C2), since).count == 1
    assert count_new(db, everything, None).count == 0
    assert count_new(db, everything, box_world.clock.now()).count == 0
    bounded = count_new(db, everything, since, scan=2)
    assert bounded.count == 2
    assert bounded.at_least


def test_the_query_reads_the_publication_index(box_world: World) -> None:
    if box_world.kind != "sqlite":
        return
    db = Database(box_world.documents.engine)
    params = (CLIENT.value, bound_time(db, box_world.clock.now()), 500)
    plan = " ".join(str(r[-1]) for r in db.fetch("EXPLAIN QUERY PLAN " + NEWEST_SINCE, params))
    assert "ix_box_documents_published" in plan
    assert "TEMP B-TREE" not in plan  # no sort: the index gives the order
