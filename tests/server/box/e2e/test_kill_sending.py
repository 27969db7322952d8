"""Kill -9 of the jobs worker during sending (issue 15's second acceptance test, b).

A real ``securebox jobs worker`` process (``--lease 2``: a killed worker's rows are taken
over two seconds later) sends through a real SMTP server that records every message and
takes :data:`DELAY` seconds to accept each. In each iteration a document is published to
company C1 (about twenty recipients, each its own digest); once a random number of its
messages arrived, the worker gets SIGKILL and a new one starts: in even iterations from the
SMTP server itself, while it holds a digest it has not yet answered ``250`` (the worker dies
with a digest delivered but not recorded), in odd ones from the test, some time after.

Then every outbox row is ``sent`` and its digest's ``Message-ID`` was received (none lost,
none made up), and the duplicates, counted by ``Message-ID``, are only those ADR 0033's
delivery semantics allow: at least once, at most one digest again per crash (the one in
flight when the worker died), under the same ``Message-ID``; and each kill by the SMTP server
did cost exactly that one duplicate (the window is really exercised). PostgreSQL and SQLite.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session

from securebox_server.box.model import Draft
from securebox_server.db.schema import BOX_NOTIFICATIONS
from tests.server.box.conftest import ACCOUNTANT, ADMIN, C1, COLLABORATOR, PRINCIPAL, upload
from tests.server.box.e2e.conftest import LiveParts, fault_loops
from tests.server.box.e2e.processes import wait_for
from tests.server.box.e2e.world import COMPANY_MAIL, MAIL, PAYSLIP, SENDER, add_readers, pdf
from tests.server.jobs.conftest import Relay, SmtpRelay

pytestmark = pytest.mark.slow
READERS = 15
DELAY = 0.05


def _rows(parts: LiveParts) -> list[tuple[str, str | None]]:
    n = BOX_NOTIFICATIONS
    with parts.documents.engine.connect() as conn:
        found = conn.execute(sa.select(n.c.status, n.c.message_id)).all()
    return [(str(status), message) for status, message in found]


def _not_sent(parts: LiveParts) -> list[dict[str, object]]:
    n = BOX_NOTIFICATIONS
    with parts.documents.engine.connect() as conn:
        found = conn.execute(sa.select(n).where(n.c.status != "sent")).mappings().all()
    return [dict(r) for r in found]


@dataclass
class Trap:
    """Set in the relay: SIGKILL ``pid`` once the relay holds message number ``at``, before
    it answers ``250`` (the worker dies with that digest accepted but not recorded: the
    window where ADR 0033 allows one duplicate)."""

    at: int = 0
    pid: int = 0
    sprung: threading.Event = field(default_factory=threading.Event)


def _arm(relay: Relay, trap: Trap) -> None:
    accept = relay.handle_DATA

    async def handle(server: SMTP, session: Session, envelope: Envelope) -> str:
        answer = await accept(server, session, envelope)
        if trap.pid and len(relay.received) >= trap.at:
            os.kill(trap.pid, signal.SIGKILL)  # our worker, by its pid
            trap.pid = 0
            trap.sprung.set()
        return answer

    relay.handle_DATA = handle  # type: ignore[method-assign]


def _loop(parts: LiveParts, smtp: SmtpRelay, loops: int) -> None:
    readers = add_readers(parts.box, parts.clock, READERS, parts.processes.home)
    relay, processes, rng = smtp.relay, parts.processes, random.Random(4242)
    relay.delay = DELAY
    options = ("--interval", "1", "--lease", "2")
    worker = processes.jobs_worker(*options)
    trap = Trap()
    _arm(relay, trap)
    for iteration in range(loops):
        # the previous kill's rows sent by its successor first: each trap catches a new digest
        wait_for(lambda: "pending" not in {s for s, _ in _rows(parts)}, 180, "the backlog")
        before = len(relay.received)
        draft = Draft(
            type=PAYSLIP.type,
            label=f"Payslip {iteration}",
            issued_at=parts.clock.now() - timedelta(days=1),
            upload=upload(pdf(20_000 + iteration)),
        )
        parts.documents.publish(SENDER, draft, [C1], idempotency_key=f"send-{iteration}")
        wanted = before + rng.randint(1, 10)
        if iteration % 2 == 0:  # killed by the relay, while it holds a digest
            trap.sprung.clear()
            trap.at, trap.pid = wanted, worker.pid
            assert trap.sprung.wait(120), "the trap never sprung"
        else:  # killed from here, somewhere after a digest arrived

            def arrived(wanted: int = wanted) -> bool:
                return len(relay.received) >= wanted

            wait_for(arrived, 120, "the first mails")
            processes.kill9(worker.pid)
        assert worker.wait(timeout=10) == -signal.SIGKILL
        worker = processes.jobs_worker(*options)
    wait_for(lambda: "pending" not in {s for s, _ in _rows(parts)}, 180, "every row sent")
    receiver = parts.actors.receiver.client.principal  # a service account: never told
    assert receiver is not None
    assert _not_sent(parts) == []
    with parts.documents.engine.connect() as conn:
        told = set(conn.execute(sa.select(BOX_NOTIFICATIONS.c.user_number)).scalars())
    assert receiver.user_number.value not in told
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0

    received = Counter(str(m["Message-ID"]) for m in relay.messages())
    digests = {message for status, message in _rows(parts) if status == "sent"}
    assert set(received) == digests  # none lost, none made up
    entitled = {MAIL[p] for p in (PRINCIPAL, ADMIN, COLLABORATOR, ACCOUNTANT)}  # not PENDING
    assert {str(m["To"]) for m in relay.messages()} == {*entitled, COMPANY_MAIL, *readers}
    again = sum(n - 1 for n in received.values())
    print(f"{loops} kills: {len(digests)} digests, {again} sent twice (same Message-ID)")
    assert max(received.values()) <= 2
    assert again <= loops  # at most the digest in flight at each kill (ADR 0033)
    assert again >= (loops + 1) // 2  # each trap caught one digest in flight: sent again


def test_kill_9_the_jobs_worker_during_sending_postgresql(
    live_parts: LiveParts, smtp_relay: SmtpRelay
) -> None:
    _loop(live_parts, smtp_relay, fault_loops())


def test_kill_9_the_jobs_worker_during_sending_sqlite(
    sqlite_parts: LiveParts, smtp_relay: SmtpRelay
) -> None:
    _loop(sqlite_parts, smtp_relay, fault_loops())
