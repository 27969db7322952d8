"""The notification sender: claim due digests, check them at sending time, send each one
once through its channel, record the outcome.

One pass (:meth:`NotificationSender.run`): the outbox leases due rows (:mod:`.outbox`) in
digests; for each digest the documents still live, still valid and visible to the recipient are
kept (the others become ``dropped``), the destination is looked up (no destination:
``dropped``), one message is built (:mod:`.digest`) and handed to the gateway, and the rows'
outcomes are committed: ``sent``; or, on a temporary failure, ``pending`` again after a
backoff, ``dead`` after the last attempt; or ``bounced`` on a permanent refusal
(:mod:`.retries`). Errors are recorded by their gateway message (never an address, a
code or a document's content). Delivery is at least once: see ADR 0033.

A share (kind ``share``, ADR 0068) is sent by e-mail to the address its sharer gave, with
the document attached (:mod:`.share_mail`), only while the document is readable and the
sharer still entitled to share it (else ``dropped``); a share has no other channel.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Final, Protocol

from securebox_auth.clock import Clock
from securebox_auth.factors.oob import Channel
from securebox_auth.shell.gateways import DeliveryFailed, DeliveryRefused
from securebox_server.box.model import BoxDocument
from securebox_server.box.shares import SHARE
from securebox_server.jobs.digest import (
    Item,
    compose_mail,
    compose_sms,
    idempotency_key,
    message_id,
)
from securebox_server.jobs.outbox import Digest, Outbox, RowOutcome
from securebox_server.jobs.recipients import Destination, Recipients, Shown
from securebox_server.jobs.retries import RetryPolicy, Status, after_failure
from securebox_server.jobs.share_mail import SharedDocument, compose_share

__all__ = ["Bodies", "Mailer", "NotificationSender", "SendCounts", "TextSender"]

_LOG: Final = logging.getLogger("securebox.jobs")
_JITTER: Final = random.SystemRandom()


class Mailer(Protocol):
    def send_mail(self, mail: EmailMessage) -> None:
        """Hand ``mail`` over, or raise ``DeliveryFailed`` (``DeliveryRefused``: final)."""
        ...


class TextSender(Protocol):
    def send_text(
        self, to: str, text: str, *, reference: str, idempotency_key: str | None = None
    ) -> None:
        """Hand one SMS over, or raise ``DeliveryFailed`` (``DeliveryRefused``: final)."""
        ...


class Bodies(Protocol):
    def shared_body(self, document_id: str) -> tuple[BoxDocument, bytes] | None:
        """The live document and its checked body; ``None`` when it cannot be sent."""
        ...


@dataclass(slots=True)
class SendCounts:
    """Rows by outcome in one pass (``messages``: digests handed to a gateway)."""

    messages: int = 0
    sent: int = 0
    dropped: int = 0
    retried: int = 0
    dead: int = 0
    bounced: int = 0
    lost_leases: int = 0

    def add(self, status: Status, n: int) -> None:
        name = {Status.PENDING: "retried"}.get(status, status.value)
        setattr(self, name, getattr(self, name) + n)


@dataclass(slots=True, kw_only=True)
class NotificationSender:
    outbox: Outbox
    recipients: Recipients
    clock: Clock
    public_url: str
    #: The domain of digest Message-IDs (the sender address's).
    domain: str
    mailer: Mailer | None = None
    sms: TextSender | None = None
    #: the documents' bodies, for shares (none: a share waits until a worker has them)
    bodies: Bodies | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = timedelta(minutes=5)
    batch: int = 500
    draw: Callable[[], float] = _JITTER.random

    def run(self, *, stop: Callable[[], bool] = lambda: False) -> SendCounts:
        """One pass over the due rows; ``stop()`` is asked between two digests (the rows
        of digests not started stay leased until their lease runs out)."""
        counts = SendCounts()
        now = self.clock.now()
        digests = self.outbox.claim(
            now, self.lease, lambda ids: message_id(ids, self.domain), batch=self.batch
        )
        for digest in digests:
            if stop():
                break
            if not self.outbox.hold(digest, self.clock.now(), self.lease):
                counts.lost_leases += len(digest.rows)
                continue
            outcomes = self._send(digest)
            counts.lost_leases += self.outbox.finish(outcomes)
            for o in outcomes:
                counts.add(o.status, 1)
            if any(o.status is Status.SENT for o in outcomes):
                counts.messages += 1
        return counts

    def _send(self, digest: Digest) -> list[RowOutcome]:
        if digest.kind == SHARE:
            return self._share(digest)
        now = self.clock.now()
        live = self.recipients.live({row.document_id for row in digest.rows}, now)
        shown: list[tuple[str, Shown]] = []
        dropped: list[RowOutcome] = []
        principal = (
            self.recipients.principal(digest.client_id, digest.user_number)
            if digest.user_number is not None
            else None
        )
        for row in digest.rows:
            doc = live.get(row.document_id)
            allowed = doc is not None and (
                digest.user_number is None
                or (principal is not None and self.recipients.may_view(principal, doc))
            )
            if doc is not None and allowed:
                shown.append((row.id, doc))
            else:
                dropped.append(_final(row.id, Status.DROPPED, row.attempts, now, "not entitled"))
        if not shown:
            return dropped
        where = self.recipients.destination(digest.client_id, digest.user_number, digest.company)
        attempts = digest.attempts + 1
        if where is None:
            return dropped + [
                _final(i, Status.DROPPED, attempts - 1, now, "no verified destination")
                for i, _ in shown
            ]
        docs = [d for _, d in shown]
        return dropped + self._attempt(
            digest, [i for i, _ in shown], where.channel, lambda: self._deliver(digest, where, docs)
        )

    def _attempt(
        self, digest: Digest, ids: list[str], channel: Channel, deliver: Callable[[], None]
    ) -> list[RowOutcome]:
        """Hand the message over once (``deliver``) and the outcome of rows ``ids``: sent,
        or after a failure pending again with a backoff, dead or bounced."""
        attempts = digest.attempts + 1
        try:
            deliver()
        except DeliveryFailed as exc:
            status, at = after_failure(
                self.policy,
                attempts,
                permanent=isinstance(exc, DeliveryRefused),
                now=self.clock.now(),
                draw=self.draw(),
            )
            _LOG.warning("notification %s: %s (%s)", digest.message_id, exc, status.value)
            return [
                RowOutcome(i, status, attempts, at, channel=channel.value, error=str(exc))
                for i in ids
            ]
        sent = self.clock.now()
        return [
            RowOutcome(i, Status.SENT, attempts, sent, sent_at=sent, channel=channel.value)
            for i in ids
        ]

    def _share(self, digest: Digest) -> list[RowOutcome]:
        """A share: the document still readable and its sharer still entitled to share it
        (else dropped), sent to its address with the body attached."""
        (row,) = digest.rows
        now = self.clock.now()
        doc = self.recipients.live({row.document_id}, now).get(row.document_id)
        sharer = (
            self.recipients.principal(digest.client_id, digest.user_number)
            if digest.user_number is not None
            else None
        )
        if (
            doc is None
            or sharer is None
            or row.address is None
            or not self.recipients.may_share(sharer, doc)
        ):
            return [_final(row.id, Status.DROPPED, row.attempts, now, "not entitled")]
        found = self.bodies.shared_body(row.document_id) if self.bodies is not None else None
        if found is None and self.bodies is not None:  # gone since, or damaged: never sent
            return [_final(row.id, Status.DROPPED, row.attempts, now, "no readable body")]
        address = row.address

        def deliver() -> None:
            if self.mailer is None or found is None:
                raise DeliveryFailed("no e-mail gateway or document store is configured")
            box_doc, body = found
            names = self.recipients.sender_names()
            shared = SharedDocument(
                box_doc.label,
                box_doc.theme.name,
                names.get(box_doc.sender, box_doc.sender),
                box_doc.company.value,
                box_doc.issued_at,
                box_doc.filename,
                box_doc.media_type,
                body,
            )
            name, reply_to = self.recipients.sharer(sharer)
            self.mailer.send_mail(
                compose_share(
                    shared,
                    to=address,
                    sharer=name,
                    note=row.note,
                    language=row.language or "",
                    message=digest.message_id,
                    reply_to=reply_to,
                )
            )

        return self._attempt(digest, [row.id], Channel.EMAIL, deliver)

    def _deliver(self, digest: Digest, where: Destination, docs: list[Shown]) -> None:
        if where.channel is Channel.EMAIL:
            if self.mailer is None:
                raise DeliveryFailed("no e-mail gateway is configured")
            names = self.recipients.sender_names()
            items = [
                Item(
                    d.ref.label,
                    str(d.ref.company),
                    d.ref.issued_at,
                    d.valid_until,
                    sender=names.get(d.sender, d.sender),
                    theme=d.ref.theme.name,
                )
                for d in docs
            ]
            mail = compose_mail(
                digest.kind,
                items,
                to=where.address,
                language=where.language,
                public_url=self.public_url,
                message=digest.message_id,
            )
            self.mailer.send_mail(mail)
            return
        if self.sms is None:
            raise DeliveryFailed("no SMS gateway is configured")
        text = compose_sms(
            digest.kind, len(docs), language=where.language, public_url=self.public_url
        )
        key = idempotency_key(digest.message_id)
        self.sms.send_text(where.address, text, reference=key, idempotency_key=key)


def _final(row: str, status: Status, attempts: int, now: datetime, why: str) -> RowOutcome:
    return RowOutcome(row, status, attempts, now, error=why)
