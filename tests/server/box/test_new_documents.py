"""The count of new documents: exact under the scan, "at least" beyond it, from the index."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.dialects import sqlite

from securebox_auth.entitlements.model import Operation
from securebox_server.box.new_documents import count_new, newest_since
from tests.server.box.conftest import C2, CLIENT, World


def test_count_is_bounded_and_says_so(box_world: World) -> None:
    since = box_world.clock.now()
    box_world.clock.advance(timedelta(minutes=1))
    for _ in range(3):
        box_world.publish_sample()
    box_world.publish_sample(type_="tax-notice", companies=(C2,))
    engine = box_world.documents.engine
    everything = box_world.box.entitlements.visible(box_world.principal, Operation.VIEW)
    payroll = box_world.box.entitlements.visible(box_world.collaborator, Operation.VIEW)
    assert count_new(engine, everything, since).count == 4
    assert count_new(engine, payroll, since).count == 3
    assert count_new(engine, everything.only(C2), since).count == 1
    assert count_new(engine, everything, None).count == 0
    assert count_new(engine, everything, box_world.clock.now()).count == 0
    bounded = count_new(engine, everything, since, scan=2)
    assert bounded.count == 2
    assert bounded.at_least


def test_the_query_reads_the_publication_index(box_world: World) -> None:
    if box_world.kind != "sqlite":
        return
    query = newest_since(CLIENT, box_world.clock.now(), 500)
    sql = str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with box_world.documents.engine.connect() as conn:
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    assert "ix_box_documents_published" in plan
    assert "TEMP B-TREE" not in plan  # no sort: the index gives the order
