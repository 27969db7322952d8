"""box/lifecycle.py: the expiry warning, the end of validity, deletion (retention and legal
hold on every path), company addresses; senders' listing. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from securebox_auth.entitlements.catalogue import DocumentQuery
from securebox_auth.entitlements.model import Operation
from securebox_auth.errors import MalformedInput
from securebox_server.box.model import (
    BodyCorrupted,
    DeletionRefused,
    DocumentNotFound,
    FeedKind,
    Status,
)
from securebox_server.db.schema import BOX_NOTIFICATIONS
from tests.server.box.conftest import C1, C2, CLIENT, NOWHERE, SENDER, World


def _count(world: World, table: str) -> int:
    with world.documents.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def _visible(world: World) -> set[str]:
    visible = world.box.entitlements.visible(world.principal, Operation.VIEW)
    return {d.document_id for d in world.catalogue.page(visible, DocumentQuery()).documents}


def _outbox(world: World, kind: str) -> list[tuple[str, str | None, str]]:
    query = select(
        BOX_NOTIFICATIONS.c.client_id, BOX_NOTIFICATIONS.c.user_number, BOX_NOTIFICATIONS.c.status
    ).where(BOX_NOTIFICATIONS.c.kind == kind)
    with world.documents.engine.connect() as conn:
        rows = [(str(c), u, str(s)) for c, u, s in conn.execute(query)]
    return sorted(rows, key=lambda r: (r[0], r[1] or "", r[2]))


def _kinds(world: World) -> list[FeedKind]:
    return [e.kind for e in world.documents.feed(CLIENT, after=0, limit=100)]


def test_the_warning_comes_once_before_the_end_of_validity(box_world: World) -> None:
    world = box_world
    world.publish_sample()
    assert world.documents.warn_expiring() == 0
    world.clock.advance(timedelta(days=165))
    assert world.documents.warn_expiring() == 1
    assert world.documents.warn_expiring() == 0
    warned = _outbox(world, "expiry_warning")
    assert [u for _, u, _ in warned] == ["01", "02", "03", "01"]  # the last: the accountant
    assert _kinds(world) == [FeedKind.NEW, FeedKind.EXPIRY_WARNING]


def test_the_end_of_validity_deletes_a_document_without_retention(box_world: World) -> None:
    world = box_world
    doc_id = world.publish_sample().document_ids[0]
    world.clock.advance(timedelta(days=179))
    assert world.documents.expire() == 0
    world.clock.advance(timedelta(days=1))
    assert world.documents.expire() == 1
    doc = world.documents.get(doc_id)
    assert doc is not None
    assert (doc.status, doc.deletion_reason) == (Status.DELETED, "expired")
    assert _count(world, "box_blobs") == 0
    assert _visible(world) == set()
    assert _kinds(world) == [FeedKind.NEW, FeedKind.DELETED]
    with pytest.raises(DocumentNotFound):
        world.documents.body(doc)
    actions = [s.event.action for s in world.box.audit_log(CLIENT.value)]
    assert actions[-1] == "box.document.deleted"
    assert world.documents.expire() == 0


def test_retention_keeps_the_body_past_validity_then_lets_it_go(box_world: World) -> None:
    world = box_world
    doc_id = world.publish_sample(type_="tax-notice").document_ids[0]
    world.clock.advance(timedelta(days=30))
    assert world.documents.expire() == 1
    doc = world.documents.get(doc_id)
    assert doc is not None
    assert doc.status is Status.EXPIRED
    assert _visible(world) == set()  # out of the box
    assert world.documents.body(doc).startswith(b"%PDF-")  # kept for the retention
    with pytest.raises(DeletionRefused, match="retention"):
        world.documents.delete(doc_id, reason="withdrawn", actor=f"sender/{SENDER}")
    actions = [s.event.action for s in world.box.audit_log(CLIENT.value)]
    assert actions[-1] == "box.document.deletion_refused"
    world.clock.advance(timedelta(days=366 * 10))
    assert world.documents.expire() == 1
    gone = world.documents.get(doc_id)
    assert gone is not None
    assert gone.status is Status.DELETED
    assert _count(world, "box_blobs") == 0


def test_a_legal_hold_stops_every_deletion_until_lifted(box_world: World) -> None:
    world = box_world
    doc_id = world.publish_sample().document_ids[0]
    world.documents.set_legal_hold(doc_id, True, actor="operator/legal")
    with pytest.raises(DeletionRefused, match="legal hold"):
        world.documents.delete(doc_id, reason="withdrawn", actor="operator/admin")
    world.clock.advance(timedelta(days=200))
    assert world.documents.expire() == 1  # validity over: out of the box, body kept
    doc = world.documents.get(doc_id)
    assert doc is not None
    assert doc.status is Status.EXPIRED
    assert world.documents.expire() == 0
    world.documents.set_legal_hold(doc_id, False, actor="operator/legal")
    assert world.documents.expire() == 1
    doc = world.documents.get(doc_id)
    assert doc is not None
    assert doc.status is Status.DELETED
    with pytest.raises(DocumentNotFound):
        world.documents.set_legal_hold(doc_id, True, actor="operator/legal")


def test_a_withdrawal_removes_the_body_with_its_last_document(box_world: World) -> None:
    world = box_world
    first, second = world.publish_sample(companies=[C1, C2], body=b"shared").document_ids
    pending = _outbox(world, "new_document")
    world.documents.delete(first, reason="withdrawn", actor=f"sender/{SENDER}")
    assert _count(world, "box_blobs") == 1
    doc = world.documents.get(second)
    assert doc is not None
    assert world.documents.body(doc) == b"shared"
    world.documents.delete(second, reason="withdrawn", actor=f"sender/{SENDER}")
    assert _count(world, "box_blobs") == 0
    world.documents.delete(second, reason="withdrawn", actor=f"sender/{SENDER}")  # no-op
    assert {s for _, _, s in _outbox(world, "new_document")} == {"dropped"}
    assert len(pending) == len(_outbox(world, "new_document"))
    with pytest.raises(DocumentNotFound):
        world.documents.delete("d-unknown", reason="withdrawn", actor="operator/admin")
    with pytest.raises(MalformedInput):
        world.documents.delete(second, reason="Not a reason!", actor="operator/admin")


def test_file_bodies_are_removed_with_their_last_document(file_world: World) -> None:
    world = file_world
    doc_id = world.publish_sample(body=b"in a file").document_ids[0]
    doc = world.documents.get(doc_id)
    assert doc is not None
    path = world.blobs.path(doc.digest)  # type: ignore[attr-defined]
    assert path.read_bytes() == b"in a file"
    world.documents.delete(doc_id, reason="withdrawn", actor="operator/admin")
    assert not path.exists()
    with pytest.raises(DocumentNotFound):
        world.documents.body(doc)
    # the same body published again is written again
    again = world.documents.get(world.publish_sample(body=b"in a file").document_ids[0])
    assert again is not None
    assert world.documents.body(again) == b"in a file"


def test_orphan_files_are_cleaned_and_referenced_ones_kept(file_world: World) -> None:
    world = file_world
    doc = world.documents.get(world.publish_sample(body=b"kept").document_ids[0])
    assert doc is not None
    world.blobs.stage("a" * 64, b"never committed")
    assert world.blobs.orphans(before=world.clock.now() - timedelta(days=1)) == 0  # too fresh
    from datetime import UTC, datetime  # noqa: PLC0415

    later = datetime.now(UTC) + timedelta(hours=2)
    assert world.blobs.orphans(before=later) == 1
    assert world.documents.body(doc) == b"kept"
    assert not world.blobs.path("a" * 64).exists()  # type: ignore[attr-defined]
    with pytest.raises(BodyCorrupted):
        world.blobs.read("a" * 64)


def test_the_company_address_is_told_of_new_documents(box_world: World) -> None:
    world = box_world
    assert world.documents.company_contact(CLIENT, C1) is None
    world.documents.set_company_contact(CLIENT, C1, "box@acme.example", actor=world.admin.key)
    assert world.documents.company_contact(CLIENT, C1) == "box@acme.example"
    world.publish_sample(companies=[C1, C2])
    assert (CLIENT.value, None, "pending") in _outbox(world, "new_document")
    assert sum(1 for _, u, _ in _outbox(world, "new_document") if u is None) == 1
    for bad in ("not-an-address", "a@b", "a b@c.example", "x" * 300 + "@a.example"):
        with pytest.raises(MalformedInput):
            world.documents.set_company_contact(CLIENT, C1, bad, actor=world.admin.key)
    with pytest.raises(MalformedInput):
        world.documents.set_company_contact(
            CLIENT, NOWHERE, "box@acme.example", actor=world.admin.key
        )
    world.documents.set_company_contact(CLIENT, C1, None, actor=world.admin.key)
    assert world.documents.company_contact(CLIENT, C1) is None
    actions = [s.event.action for s in world.box.audit_log(CLIENT.value)]
    assert actions.count("box.company_contact") == 2


def test_a_sender_lists_what_it_published_newest_first(box_world: World) -> None:
    world = box_world
    ids: list[str] = []
    for _ in range(5):
        ids.extend(world.publish_sample().document_ids)
        world.clock.advance(timedelta(minutes=1))
    first = world.documents.published_by(SENDER, after=None, limit=3)
    assert [d.id for d in first] == ids[::-1][:3]
    rest = world.documents.published_by(SENDER, after=first[-1].id, limit=3)
    assert [d.id for d in rest] == ids[::-1][3:]
    assert world.documents.published_by("someone-else", after=None, limit=3) == []
    with pytest.raises(MalformedInput):
        world.documents.published_by("someone-else", after=ids[0], limit=3)
