"""The box end to end (issue 15's first acceptance test), on SQLite in process and on
PostgreSQL with a real ``securebox serve --workers 3`` and real ``securebox jobs run``
processes:

a sender with a real ``private_key_jwt`` token publishes a PDF → the notification e-mails
reach, through a real SMTP server, exactly the entitled users and the company's address (the
collaborator without the theme gets none; the third party none before it accepts, one for
the next document, accepted after its publication but before its sending: entitled at
sending time) → the user lists it among the 20 newest and downloads it, digest checked → at
the warning time, one warning per recipient, once → after validity the document is deleted
(tombstone, body gone, 404, its audit trail kept), while a legal hold keeps another until it
is lifted; the receiver's feed sees every event once, in order.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa

from securebox_server.box.model import BodyCorrupted, DocumentNotFound, Status
from securebox_server.db.schema import BOX_BLOBS
from tests.server.box.conftest import (
    ACCOUNTANT,
    ADMIN,
    C1,
    CLIENT,
    COLLABORATOR,
    PENDING,
    PRINCIPAL,
)
from tests.server.box.e2e.conftest import Deployment
from tests.server.box.e2e.world import (
    COMPANY_MAIL,
    MAIL,
    PAYSLIP,
    accept,
    checked_download,
    feed,
    login,
    pdf,
    publish,
    sender_token,
)
from tests.server.clients.helpers import bearer

NEWS = {MAIL[PRINCIPAL], MAIL[ADMIN], MAIL[ACCOUNTANT], COMPANY_MAIL}
OLDER = 20


class Mailbox:
    """What the SMTP server received since the last look."""

    def __init__(self, deployment: Deployment) -> None:
        self.relay = deployment.relay
        self.seen = 0

    def new(self) -> list[EmailMessage]:
        messages = self.relay.messages()
        fresh, self.seen = messages[self.seen :], len(messages)
        return fresh


def _recipients(messages: list[EmailMessage]) -> Counter[str]:
    return Counter(str(m["To"]) for m in messages)


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _published(answer: Any) -> str:
    assert answer.status_code == 201, answer.text
    (result,) = answer.json()["results"]
    assert result["status"] == "published"
    document_id: str = result["document_id"]
    return document_id


def _blob_exists(d: Deployment, digest: str) -> bool:
    with d.documents.engine.connect() as conn:
        found = conn.execute(sa.select(BOX_BLOBS.c.digest).where(BOX_BLOBS.c.digest == digest))
        return found.first() is not None


def _trail(d: Deployment, tenant: str) -> dict[str, list[str]]:
    """The audit actions of each document in the subscription's chain, in order."""
    found: dict[str, list[str]] = {}
    for sealed in d.box.audit_log(tenant):
        subject = sealed.event.subject or ""
        if subject.startswith("document/"):
            found.setdefault(subject.removeprefix("document/"), []).append(sealed.event.action)
    return found


def journey(d: Deployment) -> None:
    mailbox = Mailbox(d)
    http, clock = d.http, d.clock
    receiver = sender_token(http, d.actors.receiver, clock, d.origin)
    events, after = feed(http, receiver, 0)
    assert events == []

    # 20 older payslips, so that the new statement is listed among the 20 newest
    token = sender_token(http, d.actors.sender, clock, d.origin)
    for n in range(OLDER):
        older = publish(
            http, token, pdf(100 + n), key=f"older-{n}", type_=PAYSLIP.type,
            label=f"Payslip {n}", issued_at=clock.now() - timedelta(days=40 + n),
        )  # fmt: skip
        _published(older)
    d.jobs_pass()
    assert set(_recipients(mailbox.new())) == {*NEWS, MAIL[COLLABORATOR]}
    events, after = feed(http, receiver, after)
    assert [e["kind"] for e in events] == ["document.new"] * OLDER

    # 1. a statement: the entitled users and the company's address, each one mail
    body1, issued = pdf(1), clock.now() - timedelta(hours=1)
    d1 = _published(
        publish(http, token, body1, key="statement-1", label="Statement one", issued_at=issued)
    )
    again = publish(http, token, body1, key="statement-1", label="Statement one", issued_at=issued)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _published(again) == d1
    d.jobs_pass()
    news = mailbox.new()
    assert _recipients(news) == Counter(NEWS)  # not the collaborator, not the pending third
    assert all("Statement one" in _text(m) for m in news)
    d.jobs_pass()
    assert mailbox.new() == []  # sent once

    # the user lists the 20 newest and downloads it, digest checked
    session = login(http, d.box, clock)
    listed = http.get("/api/v1/documents", params={"limit": 20}, headers=bearer(session))
    assert listed.status_code == 200, listed.text
    rows = listed.json()["documents"]
    assert len(rows) == 20
    assert rows[0]["id"] == d1
    assert rows[0]["read"] is False
    assert checked_download(http, session, d1) == body1
    assert hashlib.sha256(body1).hexdigest() == rows[0]["digest"]

    # 2. the third party accepts after the next statement's publication, before its
    # sending: entitled at sending time, it is told too
    body2 = pdf(2)
    d2 = _published(
        publish(http, token, body2, key="statement-2", label="Statement two",
                issued_at=clock.now() - timedelta(hours=1))
    )  # fmt: skip
    accept(d.box, clock)
    d.jobs_pass()
    assert _recipients(mailbox.new()) == Counter({*NEWS, MAIL[PENDING]})
    d.documents.set_legal_hold(d2, True, actor="legal-department")

    # 3. the warning: 25 days after publication (valid 30 days, warned 5 days before)
    clock.advance(timedelta(days=25, hours=2))
    d.jobs_pass()  # a pass sends, then runs the tasks: the warnings go out on the next one
    d.jobs_pass()
    warnings = mailbox.new()
    assert _recipients(warnings) == Counter({*NEWS, MAIL[PENDING]})  # one digest each
    assert all("Statement one" in _text(m) and "Statement two" in _text(m) for m in warnings)
    d.jobs_pass()
    assert mailbox.new() == []  # once

    # 4. validity over: the statement is deleted, the held one is kept
    clock.advance(timedelta(days=5))
    d.jobs_pass()
    gone, held = d.documents.get(d1), d.documents.get(d2)
    assert gone is not None
    assert gone.status is Status.DELETED
    assert gone.deleted_at is not None
    assert not _blob_exists(d, gone.digest)
    with pytest.raises(DocumentNotFound):
        d.documents.body(gone)
    assert held is not None
    assert held.status is Status.EXPIRED
    assert held.legal_hold
    assert d.documents.body(held) == body2  # the body kept, digest checked
    session = login(http, d.box, clock)
    for path in (f"/api/v1/documents/{d1}", f"/api/v1/documents/{d1}/content"):
        assert http.get(path, headers=bearer(session)).status_code == 404
    listed = http.get("/api/v1/documents", params={"limit": 20}, headers=bearer(session))
    assert {d1, d2}.isdisjoint(r["id"] for r in listed.json()["documents"])
    assert mailbox.new() == []

    # 5. the hold lifted: the next pass deletes it
    d.documents.set_legal_hold(d2, False, actor="legal-department")
    d.jobs_pass()
    held = d.documents.get(d2)
    assert held is not None
    assert held.status is Status.DELETED
    assert not _blob_exists(d, held.digest)
    with pytest.raises((DocumentNotFound, BodyCorrupted)):
        d.documents.body(held)

    # the tombstones keep their audit trail: publication, reads, warning, end
    trail = _trail(d, CLIENT.value)
    assert trail[d1][0] == "box.document.published"
    assert "box.document.download" in trail[d1]  # the proof of reading
    assert trail[d1][-2:] == ["box.document.expiry_warning", "box.document.deleted"]
    assert trail[d2][0] == "box.document.published"
    assert trail[d2][-5:] == [
        "box.document.legal_hold",
        "box.document.expiry_warning",
        "box.document.expired",  # out of the box, kept: the hold
        "box.document.legal_hold",
        "box.document.deleted",
    ]

    # the feed: every event once, in order
    receiver = sender_token(http, d.actors.receiver, clock, d.origin)
    events, _ = feed(http, receiver, after)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
    assert min(seqs) > after
    kinds = {doc: [e["kind"] for e in events if e["document_id"] == doc] for doc in (d1, d2)}
    assert kinds == {
        d1: ["document.new", "document.read", "document.expiry_warning", "document.deleted"],
        d2: ["document.new", "document.expiry_warning", "document.deleted"],
    }
    assert {e["company"] for e in events} == {C1.value}
    assert feed(http, receiver, seqs[-1]) == ([], seqs[-1])


def test_the_box_end_to_end_on_sqlite_in_process(in_process: Deployment) -> None:
    journey(in_process)


@pytest.mark.slow
def test_the_box_end_to_end_on_postgresql_with_real_processes(live: Deployment) -> None:
    journey(live)
