"""Sharing a document (ADR 0068) on SQLite and PostgreSQL, from the reader to a real SMTP
relay (aiosmtpd): who may share, what one share writes (its outbox row and an audit event
that names the recipient by a keyed digest only), and what the jobs worker sends: the body
attached byte for byte, once, only while the document is readable and the sharer entitled;
a temporary refusal retried under the same Message-ID; never grouped with another share nor
taken for an announcement."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from securebox_auth.entitlements.model import NO_RIGHTS
from securebox_auth.stores.protocols import PutSubscription
from securebox_server.admin.profiles import Profile, ProfileBook
from securebox_server.box.model import DocumentNotFound
from securebox_server.box.reading import BoxReader
from securebox_server.box.shares import (
    MAX_SHARED_BYTES,
    SHARE,
    ShareRefused,
    share_request,
)
from securebox_server.db.schema import BOX_NOTIFICATIONS
from securebox_server.jobs.digest import message_id
from securebox_server.jobs.outbox import Outbox
from securebox_server.jobs.recipients import Recipients
from securebox_server.jobs.retries import RetryPolicy
from securebox_server.jobs.sender import NotificationSender
from tests.server.box.conftest import World
from tests.server.jobs.conftest import SmtpRelay, smtp_relay  # noqa: F401 (a fixture)

KEY = bytes(range(32))
TO = "auditor@firm.example"
NOTE = "For the audit of March.\nThank you."


def reader_of(world: World) -> BoxReader:
    return BoxReader(world.documents, world.box, world.catalogue, cursor_key=KEY)


def sender_of(world: World, relay: SmtpRelay | None, **options: object) -> NotificationSender:
    engine = world.documents.engine
    return NotificationSender(
        outbox=Outbox(engine, "w1"),
        recipients=Recipients(engine, world.box),
        clock=world.clock,
        public_url="https://box.bank.example",
        domain="bank.example",
        mailer=relay.gateway() if relay is not None else None,
        bodies=world.documents,
        draw=lambda: 0.0,
        **options,  # type: ignore[arg-type]
    )


def one(world: World, **kwargs: object) -> str:
    """A document published, its announcements marked sent (only shares are left)."""
    (doc_id,) = world.publish_sample(**kwargs).document_ids  # type: ignore[arg-type]
    with world.documents.engine.begin() as conn:
        conn.execute(
            sa.update(BOX_NOTIFICATIONS)
            .where(BOX_NOTIFICATIONS.c.kind != SHARE)
            .values(status="sent")
        )
    return doc_id


def rows(world: World) -> list[sa.RowMapping]:
    with world.documents.engine.connect() as conn:
        query = sa.select(BOX_NOTIFICATIONS).where(BOX_NOTIFICATIONS.c.kind == SHARE)
        return list(conn.execute(query).mappings())


def body_of(world: World, doc_id: str) -> bytes:
    doc = world.documents.get(doc_id)
    assert doc is not None
    return world.documents.body(doc)


def attachment(mail: EmailMessage) -> tuple[str | None, str, bytes]:
    (part,) = list(mail.iter_attachments())
    payload = part.get_content()
    assert isinstance(payload, bytes)
    return part.get_filename(), part.get_content_type(), payload


def test_a_share_is_sent_once_with_the_body_attached(
    box_world: World,
    smtp_relay: SmtpRelay,  # noqa: F811
) -> None:
    world = box_world
    doc_id = one(world, label="Payslip March")
    ProfileBook(world.documents.engine).put(
        world.principal,
        Profile("mrs", "Martin", "Claire", None, None, "claire.martin@acme.example", "CFO"),
        world.clock.now(),
    )
    share = reader_of(world).share(world.principal, doc_id, share_request(TO, NOTE, "en"))
    (row,) = rows(world)
    assert (row["id"], row["status"], row["address"], row["note"]) == (
        share.id,
        "pending",
        TO,
        NOTE,
    )
    counts = sender_of(world, smtp_relay).run()
    assert (counts.messages, counts.sent) == (1, 1)
    (mail,) = smtp_relay.relay.messages()
    assert mail["To"] == TO
    assert mail["Reply-To"] == "claire.martin@acme.example"
    assert mail["Subject"] == "Claire Martin shares a document with you: Payslip March"
    assert mail["Message-ID"] == message_id([share.id], "bank.example")
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert "For the audit of March.\nThank you." in text
    assert attachment(mail) == ("Payslip March.pdf", "application/pdf", body_of(world, doc_id))
    (row,) = rows(world)
    assert (row["status"], row["note"], row["address"]) == ("sent", None, TO)
    assert sender_of(world, smtp_relay).run().messages == 0  # never twice
    assert [s.status for s in reader_of(world).shares(world.principal, doc_id)] == ["sent"]


def test_the_audit_trail_names_the_recipient_by_a_keyed_digest_only(box_world: World) -> None:
    world = box_world
    doc_id = one(world)
    share = reader_of(world).share(world.principal, doc_id, share_request(TO))
    tenant = world.principal.client_id.value
    (event,) = [
        s.event for s in world.box.audit_log(tenant) if s.event.action == "box.document.share"
    ]
    details = dict(event.details)
    assert event.actor == world.principal.key
    assert details["share"] == share.id
    assert details["recipient"].startswith(world.box.factors.oob.keys.current_key_id + ".")
    assert TO not in repr(event)
    assert "auditor" not in repr(event)


def test_who_may_share(box_world: World) -> None:
    """The principal user may; a collaborator with view and download only, a third party
    (never share, THIRD_PARTY_OPERATIONS) and another subscription's user may not: the
    same DocumentNotFound as a document that does not exist, and nothing written."""
    world = box_world
    reader = reader_of(world)
    doc_id = one(world)
    assert reader.page(world.principal, doc_id).may_share
    assert not reader.page(world.collaborator, doc_id).may_share
    for who in (world.collaborator, world.accountant, world.pending):
        with pytest.raises(DocumentNotFound):
            reader.share(who, doc_id, share_request(TO))
    with pytest.raises(DocumentNotFound):
        reader.share(world.principal, "doc_" + "0" * 22, share_request(TO))
    assert rows(world) == []


def test_a_body_too_large_for_e_mail_is_refused(box_world: World) -> None:
    world = box_world
    doc = world.documents.get(one(world))
    assert doc is not None
    large = dataclasses.replace(doc, size=MAX_SHARED_BYTES + 1)
    with pytest.raises(ShareRefused, match="larger than 10 MB"):
        world.documents.enqueue_share(large, world.principal, share_request(TO), recipient="k.1")
    assert rows(world) == []


def test_a_right_withdrawn_before_sending_sends_nothing(
    box_world: World,
    smtp_relay: SmtpRelay,  # noqa: F811
) -> None:
    world = box_world
    doc_id = one(world)
    reader_of(world).share(world.admin, doc_id, share_request(TO))
    sub = world.box.store.get_subscription(world.admin.client_id)
    assert sub is not None
    rights = {**sub.value.rights, world.admin: NO_RIGHTS}
    changed = dataclasses.replace(sub.value, rights=rights)
    world.box.store.commit([PutSubscription(changed.client_id, sub.version, changed)], [])
    counts = sender_of(world, smtp_relay).run()
    assert (counts.messages, counts.dropped) == (0, 1)
    assert smtp_relay.relay.received == []
    assert [r["status"] for r in rows(world)] == ["dropped"]


def test_a_document_gone_before_sending_is_not_sent(
    box_world: World,
    smtp_relay: SmtpRelay,  # noqa: F811
) -> None:
    world = box_world
    lapsed, deleted = one(world), one(world)
    reader = reader_of(world)
    for doc_id in (lapsed, deleted):
        reader.share(world.principal, doc_id, share_request(TO))
    with world.documents.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE box_documents SET valid_until = :at WHERE id = :id"),
            {"at": world.clock.now(), "id": lapsed},
        )
        conn.execute(
            sa.text("UPDATE box_documents SET status = 'deleted' WHERE id = :id"), {"id": deleted}
        )
    counts = sender_of(world, smtp_relay).run()
    assert (counts.messages, counts.dropped) == (0, 2)
    assert smtp_relay.relay.received == []


def test_a_refused_attempt_is_retried_under_the_same_message_id(
    box_world: World,
    smtp_relay: SmtpRelay,  # noqa: F811
) -> None:
    world = box_world
    doc_id = one(world)
    share = reader_of(world).share(world.principal, doc_id, share_request(TO, NOTE))
    smtp_relay.relay.answer = "451 4.3.0 try again later"
    policy = RetryPolicy(attempts=3)
    counts = sender_of(world, smtp_relay, policy=policy).run()
    assert (counts.messages, counts.retried) == (0, 1)
    (row,) = rows(world)
    assert (row["status"], row["attempts"], row["note"]) == ("pending", 1, NOTE)  # kept
    smtp_relay.relay.answer = "250 OK"
    world.clock.advance(timedelta(hours=1))
    assert sender_of(world, smtp_relay, policy=policy).run().sent == 1
    (mail,) = smtp_relay.relay.messages()
    assert mail["Message-ID"] == message_id([share.id], "bank.example")
    assert [r["status"] for r in rows(world)] == ["sent"]


def test_two_shares_are_two_messages_and_nobody_else_is_told(
    box_world: World,
    smtp_relay: SmtpRelay,  # noqa: F811
) -> None:
    """Two shares of one document by one user are two messages (the outbox groups
    announcements by recipient, never shares); the users entitled since publication are
    told of announcements, never of a share (box.late_recipients)."""
    world = box_world
    doc_id = one(world)
    reader = reader_of(world)
    reader.share(world.principal, doc_id, share_request(TO))
    reader.share(world.principal, doc_id, share_request("other@firm.example"))
    assert world.documents.tell_newly_entitled() == 0
    counts = sender_of(world, smtp_relay).run()
    assert (counts.messages, counts.sent) == (2, 2)
    assert sorted(m["To"] for m in smtp_relay.relay.messages()) == [TO, "other@firm.example"]


def test_without_a_mailer_a_share_waits(box_world: World) -> None:
    world = box_world
    reader_of(world).share(world.principal, one(world), share_request(TO))
    counts = sender_of(world, None, policy=RetryPolicy(attempts=3)).run()
    assert (counts.sent, counts.retried) == (0, 1)
    assert [r["status"] for r in rows(world)] == ["pending"]


def test_a_deletion_drops_a_pending_share_and_erases_every_address(
    box_world: World,
    smtp_relay: SmtpRelay,  # noqa: F811
) -> None:
    world = box_world
    doc_id = one(world)
    reader = reader_of(world)
    reader.share(world.principal, doc_id, share_request(TO, NOTE))
    assert sender_of(world, smtp_relay).run().sent == 1
    reader.share(world.principal, doc_id, share_request("later@firm.example", NOTE))
    world.documents.delete(doc_id, reason="withdrawn", actor="sender/bank-back-office")
    assert sorted((r["status"], r["address"], r["note"]) for r in rows(world)) == [
        ("dropped", None, None),
        ("sent", None, None),
    ]
    assert sender_of(world, smtp_relay).run().messages == 0
    assert len(smtp_relay.relay.received) == 1
