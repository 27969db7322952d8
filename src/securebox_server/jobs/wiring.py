"""The jobs of a deployment, from its settings and its library: the gateways of
``smtp_url``/``sms_url`` (or, in demo mode, the ``outbox`` file), the notification sender,
the periodic tasks (expiry warnings, expiry and, before each sending pass, the users entitled
since a pending document's publication, through the box's document store when there is one;
purge of spent sessions and one-time values), and a worker id."""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from securebox_auth.errors import ConfigurationError
from securebox_auth.shell.gateways import FileOutbox
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.sql.purge import purge_spent
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.box.model import BoxDocument
from securebox_server.delivery import sms_gateway, smtp_gateway
from securebox_server.jobs.leases import Leases
from securebox_server.jobs.outbox import Outbox
from securebox_server.jobs.recipients import Recipients
from securebox_server.jobs.retries import RetryPolicy
from securebox_server.jobs.runner import Jobs, Task
from securebox_server.jobs.sender import Mailer, NotificationSender, TextSender
from securebox_server.recovery.store import RecoveryStore
from securebox_server.settings import Settings

__all__ = ["DocumentClocks", "build_jobs", "worker_id"]


@runtime_checkable
class DocumentClocks(Protocol):
    """What the jobs call on the box's document store (``box.documents.DocumentStore``)."""

    def warn_expiring(self, *, limit: int = 500) -> int: ...

    def expire(self, *, limit: int = 500) -> int: ...

    def tell_newly_entitled(self, *, limit: int = 2000) -> int:
        """The users entitled at sending time who were not at publication
        (``box.late_recipients``): run before each sending pass."""
        ...

    def shared_body(self, document_id: str) -> tuple[BoxDocument, bytes] | None:
        """A shared document and its checked body (``box.shares``), for the sender."""
        ...


def worker_id() -> str:
    """``host:pid:random``, at most 64 characters: unique to this process."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def _gateways(settings: Settings) -> tuple[Mailer | None, TextSender | None, str]:
    mailer: Mailer | None = smtp_gateway(settings.smtp_url) if settings.smtp_url else None
    sms: TextSender | None = sms_gateway(settings.sms_url) if settings.sms_url else None
    if settings.outbox is not None:  # demo mode only (the settings check it)
        box = FileOutbox(settings.outbox)
        mailer, sms = mailer or box, sms or box
    sender = smtp_gateway(settings.smtp_url).sender if settings.smtp_url else ""
    domain = sender.rpartition("@")[2] or urlsplit(settings.public_url).hostname or "localhost"
    return mailer, sms, domain


def build_jobs(
    settings: Settings,
    securebox: Securebox,
    documents: DocumentClocks | None = None,
    *,
    worker: str | None = None,
    lease: timedelta = timedelta(minutes=5),
    every: timedelta = timedelta(minutes=5),
) -> Jobs:
    """The jobs on ``securebox``'s SQL store (the server's tables migrated)."""
    store = securebox.store
    if not isinstance(store, SqlStore):
        raise ConfigurationError("the jobs need the SQL store")
    engine = store.engine
    worker = worker or worker_id()
    mailer, sms, domain = _gateways(settings)
    sender = NotificationSender(
        outbox=Outbox(engine, worker),
        recipients=Recipients(engine, securebox),
        clock=securebox.clock,
        public_url=settings.public_url,
        domain=domain,
        mailer=mailer,
        sms=sms,
        bodies=documents,
        policy=RetryPolicy(attempts=settings.notification_attempts),
        lease=lease,
    )
    idle = securebox.policy.session.idle_timeout

    recovery = RecoveryStore(engine)

    def purge() -> int:
        now = securebox.clock.now()
        done = purge_spent(engine, now=now, idle_timeout=idle)
        return done.sessions + done.one_time + recovery.purge(now)

    tasks: list[Task] = []
    if documents is not None:
        tasks += [
            Task("expiry_warnings", every, documents.warn_expiring),
            Task("expiry", every, documents.expire),
            # every pass, before the sending
            Task("newly_entitled", timedelta(0), documents.tell_newly_entitled),
        ]
    tasks.append(Task("purge", timedelta(hours=1), purge))
    return Jobs(
        engine=engine,
        sender=sender,
        leases=Leases(engine, worker),
        clock=securebox.clock,
        tasks=tuple(tasks),
        lease=lease,
    )
