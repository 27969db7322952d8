"""box/documents.py and box/publishing.py: publication is one commit (catalogue, rows, body,
outbox, feed, audit), idempotent; reads are recorded; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from securebox_auth.audit import verify_chain
from securebox_auth.entitlements.catalogue import DocumentQuery
from securebox_auth.entitlements.model import Operation
from securebox_auth.errors import MalformedInput
from securebox_server.box.model import (
    BodyCorrupted,
    DocumentNotFound,
    FeedKind,
    IdempotencyConflict,
    Outcome,
    ReadKind,
    Status,
    UnknownDocumentType,
)
from securebox_server.box.upload import PDF
from securebox_server.db.schema import BOX_NOTIFICATIONS
from securebox_server.web.metrics import BODY_CORRUPTED
from tests.server.box.conftest import C1, C2, CLIENT, NOWHERE, OTHER, SENDER, World, upload


def _count(world: World, table: str) -> int:
    with world.documents.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def _notified(world: World, document_id: str) -> set[tuple[str, str | None]]:
    query = select(BOX_NOTIFICATIONS.c.client_id, BOX_NOTIFICATIONS.c.user_number).where(
        BOX_NOTIFICATIONS.c.document_id == document_id
    )
    with world.documents.engine.connect() as conn:
        return {(str(c), u) for c, u in conn.execute(query)}


def test_a_publication_commits_the_document_its_body_outbox_feed_and_audit(
    box_world: World,
) -> None:
    world = box_world
    published = world.publish_sample(companies=[C1, C2, NOWHERE], label="Payslip March")
    assert [o for _, o, _ in published.results] == [
        Outcome.PUBLISHED,
        Outcome.PUBLISHED,
        Outcome.UNKNOWN_COMPANY,
    ]
    assert not published.replayed
    first, second = published.document_ids
    doc = world.documents.get(first)
    assert doc is not None
    assert (doc.client_id, doc.company, doc.theme.name, doc.status) == (
        CLIENT,
        C1,
        "payroll",
        Status.LIVE,
    )
    assert doc.valid_until == world.clock.now() + timedelta(days=180)
    assert doc.warn_at == world.clock.now() + timedelta(days=165)
    body = world.documents.body(doc)
    assert body.startswith(b"%PDF-")
    assert (len(body), doc.filename, doc.media_type) == (doc.size, "Payslip March.pdf", PDF)
    # the catalogue row: the library's entitlements see it
    visible = world.box.entitlements.visible(world.principal, Operation.VIEW)
    page = world.catalogue.page(visible, DocumentQuery())
    assert {d.document_id for d in page.documents} == {first, second}
    # one body for two documents
    assert _count(world, "box_blobs") == 1
    # outbox: entitled users only (the collaborator has payroll; the accountant C1 only;
    # the pending third party nobody)
    assert _notified(world, first) == {
        (CLIENT.value, "01"),
        (CLIENT.value, "02"),
        (CLIENT.value, "03"),
        (OTHER.value, "01"),
    }
    assert (OTHER.value, "01") not in _notified(world, second)
    # feed, numbered from 1
    events = world.documents.feed(CLIENT, after=0, limit=10)
    assert [(e.seq, e.kind, e.document_id) for e in events] == [
        (1, FeedKind.NEW, first),
        (2, FeedKind.NEW, second),
    ]
    # audit events sealed into the subscription's chain
    log = list(world.box.audit_log(CLIENT.value))
    assert [s.event.action for s in log][-2:] == ["box.document.published"] * 2
    assert verify_chain(world.documents.store.audit_keys, log) == len(log)


def test_a_tax_notice_is_not_announced_to_a_collaborator_without_the_theme(
    box_world: World,
) -> None:
    doc_id = box_world.publish_sample(type_="tax-notice").document_ids[0]
    assert (CLIENT.value, "03") not in _notified(box_world, doc_id)
    assert (CLIENT.value, "02") in _notified(box_world, doc_id)


def test_the_same_key_and_request_replays_another_request_conflicts(box_world: World) -> None:
    world = box_world
    first = world.publish_sample(key="k-1", body=b"one", label="L")
    world.published = 0
    again = world.publish_sample(key="k-1", body=b"one", label="L")
    assert again.replayed
    assert again.results == first.results
    assert _count(world, "box_documents") == 1
    with pytest.raises(IdempotencyConflict):
        world.publish_sample(key="k-1", body=b"two", label="L")
    assert _count(world, "box_documents") == 1


def test_a_paper_subscription_and_unknown_types_are_refused(box_world: World) -> None:
    world = box_world
    with pytest.raises(UnknownDocumentType):
        world.publish_sample(type_="nothing")
    with pytest.raises(UnknownDocumentType):
        world.publish_sample(sender="another-sender")
    sub = world.box.store.get_subscription(CLIENT)
    assert sub is not None
    from dataclasses import replace  # noqa: PLC0415

    from securebox_auth.stores.protocols import PutSubscription  # noqa: PLC0415

    world.box.store.commit(
        [PutSubscription(CLIENT, sub.version, replace(sub.value, digital=False))], []
    )
    published = world.publish_sample()
    assert published.results == ((C1, Outcome.PAPER, None),)
    assert _count(world, "box_documents") == 0


@pytest.mark.parametrize(
    "companies", [[], [C1, C1], ["732829320"], "732829320"], ids=["none", "twice", "str", "text"]
)
def test_malformed_publications_are_refused(box_world: World, companies: object) -> None:
    with pytest.raises(MalformedInput):
        box_world.publish_sample(companies=companies)  # type: ignore[arg-type]
    with pytest.raises(MalformedInput):
        box_world.publish_sample(key="not a key")


def test_a_damaged_body_is_never_served(box_world: World) -> None:
    world = box_world
    doc = world.documents.get(world.publish_sample().document_ids[0])
    assert doc is not None
    with world.documents.engine.begin() as conn:
        conn.execute(text("UPDATE box_blobs SET body = :b"), {"b": b"%PDF-1.7 tampered"})
    before = BODY_CORRUPTED._value.get()
    with pytest.raises(BodyCorrupted):
        world.documents.body(doc)
    assert BODY_CORRUPTED._value.get() == before + 1
    actions = [s.event.action for s in world.box.audit_log(CLIENT.value)]
    assert actions[-1] == "box.document.body_corrupted"


def test_reads_are_recorded_and_the_first_one_is_a_feed_event(box_world: World) -> None:
    world = box_world
    doc_id = world.publish_sample().document_ids[0]
    doc = world.documents.get(doc_id)
    assert doc is not None
    assert world.documents.first_read(doc_id) is None
    world.documents.record_read(doc, world.accountant, ReadKind.VIEW)
    world.clock.advance(timedelta(minutes=5))
    world.documents.record_read(doc, world.principal, ReadKind.DOWNLOAD)
    world.documents.record_read(doc, world.accountant, ReadKind.DOWNLOAD)
    first = world.documents.first_read(doc_id)
    assert first is not None
    assert (first.reader, first.how) == (world.accountant, ReadKind.VIEW)
    assert world.documents.read_by(world.principal, [doc_id, "other"]) == {doc_id}
    assert world.documents.read_by(world.collaborator, [doc_id]) == set()
    kinds = [e.kind for e in world.documents.feed(CLIENT, after=0, limit=10)]
    assert kinds == [FeedKind.NEW, FeedKind.READ]
    actions = [s.event.action for s in world.box.audit_log(CLIENT.value)]
    assert actions[-3:] == [f"box.document.{a}" for a in ("view", "download", "download")]
    # the third party's reads are in their own subscription's chain too
    assert [s.event.action for s in world.box.audit_log(OTHER.value)][-1] == (
        "box.document.download"
    )


def test_a_visit_returns_the_previous_one(box_world: World) -> None:
    world = box_world
    assert world.documents.visit(world.principal) is None
    t1 = world.clock.now()
    world.clock.advance(timedelta(hours=2))
    assert world.documents.visit(world.principal) == t1
    assert world.documents.visit(world.admin) is None


def test_a_missing_document_is_none_and_a_tombstone_has_no_body(box_world: World) -> None:
    assert box_world.documents.get("d-unknown") is None
    assert box_world.documents.get("x" * 200) is None
    doc = box_world.documents.get(box_world.publish_sample().document_ids[0])
    assert doc is not None
    from dataclasses import replace  # noqa: PLC0415

    with pytest.raises(DocumentNotFound):
        box_world.documents.body(replace(doc, status=Status.DELETED))


def test_types_are_listed_per_sender(box_world: World) -> None:
    assert [t.type for t in box_world.documents.types_of(SENDER)] == ["payslip", "tax-notice"]
    assert box_world.documents.types_of("someone-else") == []


def test_file_bodies_are_checked_too(file_world: World) -> None:
    world = file_world
    doc = world.documents.get(world.publish_sample(body=b"file body").document_ids[0])
    assert doc is not None
    assert world.documents.body(doc) == b"file body"
    path = world.blobs.path(doc.digest)  # type: ignore[attr-defined]
    path.write_bytes(b"file bodY")
    with pytest.raises(BodyCorrupted):
        world.documents.body(doc)
    path.unlink()
    with pytest.raises(BodyCorrupted):
        world.documents.body(doc)


def test_upload_helper_describes_its_body() -> None:
    assert upload(b"abc").size == 3
