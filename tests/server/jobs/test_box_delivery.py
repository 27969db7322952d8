"""From publication to the mailbox, with the box's own DocumentStore (SQLite and
PostgreSQL): documents published through ``DocumentStore.publish`` reach, by one digest
each, exactly the users entitled at sending time (a collaborator without the theme gets
nothing, a third party only after acceptance), and the company's notification address."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from securebox_auth.entitlements.invitations import accept_invitation
from securebox_auth.entitlements.model import CompanyScope, DocumentScope, Operation, Rights
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.oob import Channel
from securebox_auth.shell.gateways import FileOutbox
from securebox_auth.stores.protocols import PutSubscription
from securebox_server.db.schema import BOX_COMPANY_CONTACTS
from securebox_server.jobs.outbox import Outbox
from securebox_server.jobs.recipients import Recipients
from securebox_server.jobs.sender import NotificationSender
from securebox_server.jobs.wiring import build_jobs
from securebox_server.settings import Settings
from tests.server.box.conftest import (  # noqa: F401 (fixtures, found by name)
    C1,
    CLIENT,
    PAYROLL,
    TAX,
    TAX_NOTICE,
    World,
    box_url,
    make_world,
)
from tests.server.jobs.conftest import PUBLIC_URL, SmtpRelay, verify

PU = "pu@acme.example"
PENDING_MAIL = "pending@cabinet.example"
COLLAB = "collab@acme.example"


@pytest.fixture
def box_world(box_url: str) -> Iterator[World]:  # noqa: F811
    world = make_world(box_url)
    yield world
    world.documents.engine.dispose()


def test_published_documents_reach_exactly_the_entitled(
    box_world: World, smtp_relay: SmtpRelay, tmp_path: Path
) -> None:
    world = box_world
    outbox = FileOutbox(tmp_path / "enrol.jsonl")
    mail = {
        world.principal: "pu@acme.example",
        world.admin: "admin@acme.example",
        world.collaborator: "collab@acme.example",
        world.accountant: "accountant@cabinet.example",
        world.pending: "pending@cabinet.example",
    }
    for who, address in mail.items():
        verify(world.box, world.clock, outbox, who, Channel.EMAIL, address)
    with world.documents.engine.begin() as conn:  # what set_company_contact writes
        conn.execute(
            BOX_COMPANY_CONTACTS.insert().values(
                client_id=CLIENT.value,
                company=C1.value,
                email="compta@acme.example",
                changed_at=world.clock.now(),
                changed_by="01",
            )
        )
    for _ in range(3):
        world.publish_sample()  # payslips: the collaborator's theme
    world.publish_sample(type_=TAX_NOTICE.type)  # not the collaborator's
    engine = world.documents.engine
    sender = NotificationSender(
        outbox=Outbox(engine, "w1"),
        recipients=Recipients(engine, world.box),
        clock=world.clock,
        public_url=PUBLIC_URL,
        domain="bank.example",
        mailer=smtp_relay.gateway(),
    )
    counts = sender.run()
    received = {m["To"]: m["Subject"] for m in smtp_relay.relay.messages()}
    assert received == {
        "pu@acme.example": "4 nouveaux documents dans votre Digital Box",
        "admin@acme.example": "4 nouveaux documents dans votre Digital Box",
        "collab@acme.example": "3 nouveaux documents dans votre Digital Box",
        "accountant@cabinet.example": "4 nouveaux documents dans votre Digital Box",
        "compta@acme.example": "4 nouveaux documents dans votre Digital Box",
    }
    assert counts.messages == len(received)
    assert counts.dropped == 0
    assert sender.run().messages == 0


def test_the_worker_warns_then_deletes_and_a_hold_stops_it(
    box_world: World, smtp_relay: SmtpRelay, tmp_path: Path
) -> None:
    world = box_world
    verify(
        world.box, world.clock, FileOutbox(tmp_path / "e.jsonl"), world.admin, Channel.EMAIL,
        "admin@acme.example",
    )  # fmt: skip
    kept = world.publish_sample().document_ids[0]  # payslips: valid 180 days, warned 15 before
    gone = world.publish_sample().document_ids[0]
    world.documents.set_legal_hold(kept, True, actor="legal")
    settings = Settings(
        database_url="sqlite:///unused.db",
        demo=True,
        public_url=PUBLIC_URL,
        smtp_url=f"smtp+plain://127.0.0.1:{smtp_relay.port}?from=box@bank.example",
    )
    jobs = build_jobs(settings, world.box, world.documents, worker="w1")
    assert [t.name for t in jobs.tasks] == ["expiry_warnings", "expiry", "newly_entitled", "purge"]
    first = jobs.run_once(force=True)  # the two new-document digests go out
    assert first.notifications.messages == 1
    world.clock.advance(timedelta(days=170))
    warned = jobs.run_once(force=True)  # the tasks run first: their warnings go out at once
    assert warned.tasks["expiry_warnings"] == 2
    assert warned.notifications.sent == 2  # one warning digest (two rows)
    assert jobs.run_once(force=True).notifications.sent == 0  # once
    subjects = [
        m["Subject"] for m in smtp_relay.relay.messages() if m["To"] == "admin@acme.example"
    ]
    assert subjects == [
        "2 nouveaux documents dans votre Digital Box",
        "2 documents de votre Digital Box arrivent bientôt à expiration",
    ]
    world.clock.advance(timedelta(days=15))
    assert jobs.run_once(force=True).tasks["expiry"] >= 1
    kept_doc, gone_doc = world.documents.get(kept), world.documents.get(gone)
    assert kept_doc is not None
    assert gone_doc is not None
    assert gone_doc.status.value == "deleted"
    assert kept_doc.status.value != "deleted"  # the legal hold


def _accept_pending(world: World) -> None:
    """The pending third party accepts its invitation (the library's decision)."""
    found = world.box.store.get_subscription(CLIENT)
    invitee = world.box.store.get_account(world.pending)
    assert found is not None
    assert invitee is not None
    change = accept_invitation(invitee.value, found.value, "inv-pending", now=world.clock.now())
    world.box.store.commit(
        [PutSubscription(CLIENT, found.version, change.subscription)], change.events
    )


def test_a_user_entitled_at_sending_time_is_told_once(
    box_world: World, smtp_relay: SmtpRelay, tmp_path: Path
) -> None:
    """Entitled at publication or not, a user entitled when the document's announcement is
    sent is told (the third party that accepted meanwhile), once; a document already
    announced is not announced again to a user entitled later."""
    world = box_world
    outbox = FileOutbox(tmp_path / "enrol.jsonl")
    mail = {world.principal: PU, world.pending: PENDING_MAIL, world.collaborator: COLLAB}
    for who, address in mail.items():
        verify(world.box, world.clock, outbox, who, Channel.EMAIL, address)
    settings = Settings(
        database_url="sqlite:///unused.db",
        demo=True,
        public_url=PUBLIC_URL,
        smtp_url=f"smtp+plain://127.0.0.1:{smtp_relay.port}?from=box@bank.example",
    )
    jobs = build_jobs(settings, world.box, world.documents, worker="w1")
    world.publish_sample()  # a payslip; the third party's invitation is pending: no row
    _accept_pending(world)  # accepted before the worker sends
    first = jobs.run_once()  # not forced: the task runs on every pass
    assert first.tasks["newly_entitled"] == 1
    assert sorted(m["To"] for m in smtp_relay.relay.messages()) == [COLLAB, PENDING_MAIL, PU]
    again = jobs.run_once()
    assert (again.tasks["newly_entitled"], again.notifications.messages) == (0, 0)
    # a tax notice (not the collaborator's theme) is announced; the collaborator is given
    # the theme afterwards: the announcement is over, nothing more is sent
    world.publish_sample(type_=TAX_NOTICE.type)
    assert jobs.run_once().notifications.messages == 2
    found = world.box.store.get_subscription(CLIENT)
    assert found is not None
    wider = Rights(
        CompanyScope.portfolio(),
        DocumentScope(themes=frozenset({PAYROLL, TAX})),
        frozenset({Operation.VIEW}),
    )
    change = found.value.with_rights(world.collaborator, wider)
    world.box.store.commit([PutSubscription(CLIENT, found.version, change)], [])
    late = jobs.run_once()
    assert (late.tasks["newly_entitled"], late.notifications.messages) == (0, 0)
    assert len(smtp_relay.relay.messages()) == 5
    for bad in (0, 5001, "10"):
        with pytest.raises(MalformedInput):
            world.documents.tell_newly_entitled(limit=bad)  # type: ignore[arg-type]


def test_a_document_past_its_validity_is_announced_to_nobody_more(box_world: World) -> None:
    """Past its validity, before the expiry job marks it expired, a document is out of every
    list: a user entitled since its publication is not told of it, and the pending
    announcements are dropped at sending time (``Recipients.live``)."""
    world = box_world
    world.publish_sample(type_=TAX_NOTICE.type)  # valid 30 days; the third party is pending
    _accept_pending(world)
    world.clock.advance(timedelta(days=30))
    assert world.documents.tell_newly_entitled() == 0
    recipients = Recipients(world.documents.engine, world.box)
    with world.documents.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM box_documents"))]
    assert recipients.live(ids, world.clock.now()) == {}
    assert set(recipients.live(ids, world.clock.now() - timedelta(seconds=1))) == set(ids)
