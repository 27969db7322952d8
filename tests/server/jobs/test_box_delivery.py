"""From publication to the mailbox, with the box's own DocumentStore (SQLite and
PostgreSQL): documents published through ``DocumentStore.publish`` reach, by one digest
each, exactly the users entitled at sending time (a collaborator without the theme gets
nothing, a third party only after acceptance), and the company's notification address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from securebox_auth.factors.oob import Channel
from securebox_auth.shell.gateways import FileOutbox
from securebox_server.db.schema import BOX_COMPANY_CONTACTS
from securebox_server.jobs.outbox import Outbox
from securebox_server.jobs.recipients import Recipients
from securebox_server.jobs.sender import NotificationSender
from tests.server.box.conftest import (  # noqa: F401 (fixtures, found by name)
    C1,
    CLIENT,
    TAX_NOTICE,
    World,
    box_url,
    make_world,
)
from tests.server.jobs.conftest import PUBLIC_URL, SmtpRelay, verify


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
