"""Shares across paths (ADR 0068) as a Hypothesis state machine: users share documents
while an administrator grants and withdraws the collaborator's right to share, senders
withdraw documents, time runs past their validity, the mail relay accepts, defers or refuses,
and the jobs worker sends, in any order. On SQLite, against a real SMTP relay (aiosmtpd).

A model written here (not the server's checks) says after every step:

* a share is written exactly when its sharer may share the document now (live, within its
  validity, the right held), else the reader answers DocumentNotFound and nothing is written;
* each share row's status is what the sends made of it: ``sent`` only if, when a worker
  took it, the document was readable, the sharer still entitled and the relay said 250;
  ``dropped`` if the document or the right was gone; ``bounced`` on a 5xx; ``dead`` after
  the last 4xx; else ``pending``;
* every message the relay accepted is one share's (its Message-ID), once, to its address,
  with the document's body attached byte for byte, and each ``sent`` row has its message;
* a final row keeps no note; a deleted document's shares keep no address;
* the users entitled since publication are never given a share row.

``SECUREBOX_SHARE_EXAMPLES`` sets the number of examples (10 by default, ~0.2 s each; CI
100, ``nox -s machines`` 1,000). With the send-time check of the right reverted, a run of
50 examples found it once and a run of 100 in one try of two; the note's clearing reverted
is found within 300.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from securebox_auth.entitlements.model import (
    CompanyScope,
    DocumentScope,
    Operation,
    Rights,
)
from securebox_auth.identity import Principal
from securebox_auth.policy.session import open_session
from securebox_auth.shell.gateways import SmtpGateway
from securebox_auth.stores.protocols import OpenSession
from securebox_server.box.model import DeletionRefused, DocumentNotFound
from securebox_server.box.reading import BoxReader
from securebox_server.box.shares import SHARE, share_request
from securebox_server.db.schema import BOX_NOTIFICATIONS
from securebox_server.jobs.digest import message_id
from securebox_server.jobs.outbox import Outbox
from securebox_server.jobs.recipients import Recipients
from securebox_server.jobs.retries import RetryPolicy
from securebox_server.jobs.sender import NotificationSender
from tests.server.box.conftest import (
    ACCOUNTANT,
    ADMIN,
    C1,
    COLLABORATOR,
    PAYROLL,
    PRINCIPAL,
    SENDER,
    World,
    make_world,
)
from tests.server.box.test_lifecycle_machine import _template
from tests.server.jobs.conftest import Relay, free_port

EXAMPLES: Final = int(os.environ.get("SECUREBOX_SHARE_EXAMPLES", "10"))
KEY: Final = bytes(range(32))
DOMAIN: Final = "bank.example"
ATTEMPTS: Final = 3
ADDRESSES: Final = ("auditor@firm.example", "notary@etude.example")
ANSWERS: Final = ("250 OK", "451 4.3.0 try again later", "550 5.1.1 no such user")
FINAL: Final = frozenset({"sent", "dropped", "dead", "bounced"})


@dataclass
class Doc:
    id: str
    theme: str
    valid_until: datetime
    body: bytes
    deleted: bool = False


@dataclass
class Share:
    id: str
    doc: str
    sharer: Principal
    address: str
    note: str
    status: str = "pending"
    attempts: int = 0
    due: datetime | None = None


class Shares(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp())
        shutil.copyfile(_template(), self.folder / "box.db")
        self.world: World = make_world(f"sqlite:///{self.folder / 'box.db'}")
        self.reader = BoxReader(
            self.world.documents, self.world.box, self.world.catalogue, cursor_key=KEY
        )
        self.relay = Relay()
        self.controller = Controller(self.relay, hostname="127.0.0.1", port=free_port())
        self.controller.start()
        engine = self.world.documents.engine
        self.sender = NotificationSender(
            outbox=Outbox(engine, "w1"),
            recipients=Recipients(engine, self.world.box),
            clock=self.world.clock,
            public_url="https://box.bank.example",
            domain=DOMAIN,
            mailer=SmtpGateway(
                host="127.0.0.1",
                port=self.controller.port,
                sender="box@bank.example",
                starttls=False,
            ),
            bodies=self.world.documents,
            policy=RetryPolicy(attempts=ATTEMPTS),
            draw=lambda: 0.0,
        )
        self.docs: dict[str, Doc] = {}
        self.shares: dict[str, Share] = {}
        self.collaborator_shares = False  # the seed: view and download only
        self._set_collaborator(share=True)  # so that withdrawing it finds shares under way
        self.publish("payslip")

    def teardown(self) -> None:
        self.controller.stop()
        self.world.documents.engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def now(self) -> datetime:
        return self.world.clock.now()

    # -- the model ----------------------------------------------------------------------

    def readable(self, doc: Doc) -> bool:
        return not doc.deleted and self.now < doc.valid_until

    def may_share(self, who: Principal, doc: Doc) -> bool:
        if not self.readable(doc):
            return False
        if who in (PRINCIPAL, ADMIN):
            return True
        if who == COLLABORATOR:
            return self.collaborator_shares and doc.theme == PAYROLL.name
        return False  # a third party never shares

    # -- rules --------------------------------------------------------------------------

    @rule(type_=st.sampled_from(["payslip", "tax-notice"]))
    def publish(self, type_: str) -> None:
        (doc_id,) = self.world.publish_sample(type_=type_, companies=[C1]).document_ids
        doc = self.world.documents.get(doc_id)
        assert doc is not None
        assert doc.valid_until is not None
        body = self.world.documents.body(doc)
        self.docs[doc_id] = Doc(doc_id, doc.theme.name, doc.valid_until, body)

    @precondition(lambda self: bool(self.docs))
    @rule(
        data=st.data(),
        who=st.sampled_from([PRINCIPAL, ADMIN, COLLABORATOR, ACCOUNTANT]),
        address=st.sampled_from(ADDRESSES),
        note=st.sampled_from(["", "For the audit.\nThank you."]),
    )
    def share(self, data: st.DataObject, who: Principal, address: str, note: str) -> None:
        self._share(who, self.docs[data.draw(st.sampled_from(sorted(self.docs)))], address, note)

    def _share(self, who: Principal, doc: Doc, address: str, note: str) -> None:
        asked = share_request(address, note, "en")
        if not self.may_share(who, doc):
            with pytest.raises(DocumentNotFound):
                self.reader.share(who, doc.id, asked)
            return
        made = self.reader.share(who, doc.id, asked)
        self.shares[made.id] = Share(made.id, doc.id, who, address, note, due=self.now)

    @precondition(lambda self: bool(self.docs))
    @rule(data=st.data(), address=st.sampled_from(ADDRESSES))
    def the_collaborator_shares_a_payslip(self, data: st.DataObject, address: str) -> None:
        """As :meth:`share`, by the user whose right comes and goes (drawn more often)."""
        payslips = sorted(d for d, doc in self.docs.items() if doc.theme == PAYROLL.name)
        if payslips:
            self._share(COLLABORATOR, self.docs[data.draw(st.sampled_from(payslips))], address, "")

    @rule(grant=st.booleans())
    def the_collaborator_s_right_to_share(self, grant: bool) -> None:
        """The administrator gives the collaborator payroll with share, or without."""
        self._set_collaborator(share=grant)

    def _set_collaborator(self, *, share: bool) -> None:
        grant = share
        operations = {Operation.VIEW, Operation.DOWNLOAD} | ({Operation.SHARE} if grant else set())
        rights = Rights(
            CompanyScope.portfolio(),
            DocumentScope(themes=frozenset({PAYROLL})),
            frozenset(operations),
        )
        opened = OpenSession(open_session(ADMIN, "web", ("cap_identify",), self.now))
        self.world.box.store.commit([opened], [])
        self.world.box.entitlements.set_rights(opened.session_id, COLLABORATOR, rights)
        self.collaborator_shares = grant

    @precondition(lambda self: any(not d.deleted for d in self.docs.values()))
    @rule(data=st.data())
    def the_sender_withdraws(self, data: st.DataObject) -> None:
        doc = self.docs[data.draw(st.sampled_from(sorted(self.docs)))]
        if doc.deleted:
            return
        try:
            self.world.documents.delete(doc.id, reason="withdrawn", actor=f"sender/{SENDER}")
        except DeletionRefused:  # a tax notice is kept for its retention period
            return
        doc.deleted = True
        for share in self.shares.values():
            if share.doc == doc.id and share.status == "pending":
                share.status = "dropped"

    @rule(by=st.sampled_from([timedelta(minutes=1), timedelta(hours=2), timedelta(days=40)]))
    def time_passes(self, by: timedelta) -> None:
        self.world.clock.advance(by)

    @rule(answer=st.sampled_from(ANSWERS))
    def the_relay_answers(self, answer: str) -> None:
        self.relay.answer = answer

    @rule()
    def the_worker_runs(self) -> None:
        assert self.world.documents.tell_newly_entitled() >= 0
        due = [
            s
            for s in self.shares.values()
            if s.status == "pending" and s.due is not None and s.due <= self.now
        ]
        expected: dict[str, str] = {}
        for share in due:
            doc = self.docs[share.doc]
            if not self.may_share(share.sharer, doc):
                expected[share.id] = "dropped"
            elif self.relay.answer.startswith("250"):
                expected[share.id] = "sent"
            elif self.relay.answer.startswith("5"):
                expected[share.id] = "bounced"
            else:
                expected[share.id] = "dead" if share.attempts + 1 >= ATTEMPTS else "pending"
        self.sender.run()
        stored = self._stored()
        for share in due:
            assert stored[share.id][0] == expected[share.id], (share, self.relay.answer)
            share.status = expected[share.id]
            if expected[share.id] != "dropped":
                share.attempts += 1
            share.due = stored[share.id][1]

    # -- invariants ---------------------------------------------------------------------

    def _stored(self) -> dict[str, tuple[str, datetime, str | None, str | None]]:
        query = sa.select(
            BOX_NOTIFICATIONS.c.id,
            BOX_NOTIFICATIONS.c.status,
            BOX_NOTIFICATIONS.c.next_attempt_at,
            BOX_NOTIFICATIONS.c.address,
            BOX_NOTIFICATIONS.c.note,
        ).where(BOX_NOTIFICATIONS.c.kind == SHARE)
        with self.world.documents.engine.connect() as conn:
            return {str(i): (str(s), at, a, n) for i, s, at, a, n in conn.execute(query)}

    @invariant()
    def the_rows_are_the_model_s(self) -> None:
        stored = self._stored()
        assert set(stored) == set(self.shares)  # and none for anybody else
        for share in self.shares.values():
            status, _, address, note = stored[share.id]
            assert status == share.status, share
            deleted = self.docs[share.doc].deleted
            assert address == (None if deleted else share.address), share
            kept = None if status in FINAL or deleted or not share.note else share.note
            assert note == kept, share

    @invariant()
    def every_message_is_one_share_s_sent_once(self) -> None:
        by_message = {message_id([s.id], DOMAIN): s for s in self.shares.values()}
        mails = self.relay.messages()
        ids = [str(m["Message-ID"]) for m in mails]
        assert len(ids) == len(set(ids))  # never twice
        sent = {message_id([s.id], DOMAIN) for s in self.shares.values() if s.status == "sent"}
        assert set(ids) == sent
        for mail in mails:
            share = by_message[str(mail["Message-ID"])]
            assert mail["To"] == share.address
            (part,) = list(mail.iter_attachments())
            assert part.get_content() == self.docs[share.doc].body


Shares.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestShares = Shares.TestCase
