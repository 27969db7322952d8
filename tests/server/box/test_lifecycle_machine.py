"""A document's life as a state machine (Hypothesis): publications, time passing, the
clocks, withdrawals and legal holds in any order, against a model of the rules.

After every step: a document is deleted only when the rules allowed it; the readers'
catalogue holds exactly the live documents; a body is readable exactly while its document
is not a tombstone; ``box_blobs`` holds exactly the digests of documents not deleted; the
feed is numbered 1..n without gaps. On SQLite (the same SQL paths run on PostgreSQL in
``test_lifecycle.py``)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import text

from securebox_auth.stores.sql import migrate as store_migrate
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.box.model import DeletionRefused, Status
from securebox_server.box.retention import Deletion, deletion
from securebox_server.db import migrate as server_migrate
from tests.server.box.conftest import C1, C2, CLIENT, World, make_world


@dataclass
class Expected:
    retain_until: datetime
    valid_until: datetime
    hold: bool = False
    status: Status = Status.LIVE


@cache
def _template() -> Path:
    """A SQLite file with both histories migrated, copied by every example."""
    path = Path(tempfile.mkdtemp()) / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        store_migrate.upgrade(engine)
        server_migrate.upgrade(engine)
    finally:
        engine.dispose()
    return path


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        folder = Path(tempfile.mkdtemp())
        shutil.copyfile(_template(), folder / "box.db")
        self.world: World = make_world(f"sqlite:///{folder / 'box.db'}")
        self.folder = folder
        self.docs: dict[str, Expected] = {}

    def teardown(self) -> None:
        self.world.documents.engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def now(self) -> datetime:
        return self.world.clock.now()

    @rule(
        type_=st.sampled_from(["payslip", "tax-notice"]),
        both=st.booleans(),
        same_body=st.booleans(),
    )
    def publish(self, type_: str, both: bool, same_body: bool) -> None:
        body = b"shared body" if same_body else None
        published = self.world.publish_sample(
            type_=type_, companies=[C1, C2] if both else [C1], body=body
        )
        for doc_id in published.document_ids:
            doc = self.world.documents.get(doc_id)
            assert doc is not None
            assert doc.valid_until is not None
            self.docs[doc_id] = Expected(doc.retain_until, doc.valid_until)

    @rule(days=st.sampled_from([1, 15, 31, 200, 3700]))
    def time_passes(self, days: int) -> None:
        self.world.clock.advance(timedelta(days=days))

    @rule()
    def clocks_run(self) -> None:
        self.world.documents.warn_expiring()
        self.world.documents.expire()
        for expected in self.docs.values():
            if expected.status is Status.DELETED:
                continue
            allowed = deletion(
                status=expected.status,
                retain_until=expected.retain_until,
                legal_hold=expected.hold,
                now=self.now,
            )
            if self.now >= expected.valid_until or expected.status is Status.EXPIRED:
                ended = allowed is Deletion.ALLOWED
                expected.status = Status.DELETED if ended else Status.EXPIRED

    @precondition(lambda self: bool(self.docs))
    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        doc_id = data.draw(st.sampled_from(sorted(self.docs)))
        expected = self.docs[doc_id]
        allowed = deletion(
            status=expected.status,
            retain_until=expected.retain_until,
            legal_hold=expected.hold,
            now=self.now,
        )
        if allowed in (Deletion.RETENTION, Deletion.LEGAL_HOLD):
            with pytest.raises(DeletionRefused):
                self.world.documents.delete(doc_id, reason="withdrawn", actor="sender/bank")
            return
        self.world.documents.delete(doc_id, reason="withdrawn", actor="sender/bank")
        expected.status = Status.DELETED

    @precondition(lambda self: any(e.status is not Status.DELETED for e in self.docs.values()))
    @rule(data=st.data(), hold=st.booleans())
    def legal_hold(self, data: st.DataObject, hold: bool) -> None:
        alive = sorted(d for d, e in self.docs.items() if e.status is not Status.DELETED)
        doc_id = data.draw(st.sampled_from(alive))
        self.world.documents.set_legal_hold(doc_id, hold, actor="operator/legal")
        self.docs[doc_id].hold = hold

    @invariant()
    def rows_follow_the_rules(self) -> None:
        for doc_id, expected in self.docs.items():
            doc = self.world.documents.get(doc_id)
            assert doc is not None
            assert doc.status is expected.status, doc_id
            if doc.status is Status.DELETED:
                assert doc.deleted_at is not None
            else:
                assert self.world.documents.body(doc)

    @invariant()
    def catalogue_and_bodies_match(self) -> None:
        live = {d for d, e in self.docs.items() if e.status is Status.LIVE}
        kept = {d for d, e in self.docs.items() if e.status is not Status.DELETED}
        with self.world.documents.engine.connect() as conn:
            catalogued = {r[0] for r in conn.execute(text("SELECT id FROM documents"))}
            blobs = {r[0] for r in conn.execute(text("SELECT digest FROM box_blobs"))}
            digests = {
                r[0]
                for r in conn.execute(
                    text("SELECT digest FROM box_documents WHERE status <> 'deleted'")
                )
            }
        assert catalogued == live
        assert blobs == digests
        assert len(digests) <= len(kept)

    @invariant()
    def the_feed_has_no_gaps(self) -> None:
        seqs = [e.seq for e in self.world.documents.feed(CLIENT, after=0, limit=1000)]
        assert seqs == list(range(1, len(seqs) + 1))


Lifecycle.TestCase.settings = settings(
    max_examples=10,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLifecycle = Lifecycle.TestCase
