"""The notification sender against a real SMTP relay (aiosmtpd) and a real HTTP SMS
provider on loopback, on SQLite and PostgreSQL: one digest per recipient, entitlements
checked at sending time, retries to the dead letter, bounces, and a crashed worker's rows
sent by another under the same Message-ID."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from securebox_auth.entitlements.model import NO_RIGHTS
from securebox_auth.factors.oob import Channel
from securebox_auth.stores.protocols import PutSubscription
from securebox_server.db.schema import BOX_COMPANY_CONTACTS
from securebox_server.jobs.digest import idempotency_key, message_id
from securebox_server.jobs.outbox import Outbox
from securebox_server.jobs.retries import RetryPolicy
from tests.entitlements.world import ADMIN, C1, C2, CLERK, PU, A
from tests.server.jobs.conftest import PUBLIC_URL, SmsProvider, SmtpRelay, World, sender

PU_MAIL = "pu@acme.example"
CLERK_MAIL = "clerk@acme.example"
ADMIN_PHONE = "+33639980042"


def test_fifty_documents_make_one_digest(world: World, smtp_relay: SmtpRelay) -> None:
    world.verify(PU, Channel.EMAIL, PU_MAIL)
    world.verify(PU, Channel.SMS, ADMIN_PHONE)  # e-mail comes first
    ids = [world.notify(world.document(n), "01") for n in range(50)]
    counts = sender(world, smtp_relay).run()
    assert (counts.messages, counts.sent) == (1, 50)
    (mail,) = smtp_relay.relay.messages()
    assert mail["To"] == PU_MAIL
    assert mail["Subject"] == "50 nouveaux documents dans votre Digital Box"
    assert mail["Message-ID"] == message_id(ids, "bank.example")
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    rich = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert text.count("- Relevé n°") == 50
    assert PUBLIC_URL in text
    assert f'href="{PUBLIC_URL}"' in rich
    assert rich.count("<li>") == 50
    rows = world.rows()
    assert {r["status"] for r in rows.values()} == {"sent"}
    assert {r["channel"] for r in rows.values()} == {"email"}
    assert {r["message_id"] for r in rows.values()} == {mail["Message-ID"]}
    assert sender(world, smtp_relay).run().messages == 0  # nothing sent twice


def test_sms_when_no_email_is_verified(world: World, sms_hook: SmsProvider) -> None:
    world.verify(ADMIN, Channel.SMS, ADMIN_PHONE)
    ids = [world.notify(world.document(n), "02") for n in range(3)]
    assert sender(world, sms=sms_hook).run().sent == 3
    (sms,) = sms_hook.received
    assert sms["to"] == ADMIN_PHONE
    assert sms["text"] == f"3 nouveaux documents dans votre Digital Box: {PUBLIC_URL}"
    assert sms["idempotency_key"] == idempotency_key(message_id(ids, "bank.example"))
    assert "Relevé" not in sms["text"]  # no label in an SMS


def test_rights_are_checked_at_sending_time(world: World, smtp_relay: SmtpRelay) -> None:
    world.verify(CLERK, Channel.EMAIL, CLERK_MAIL)
    payslip = world.notify(world.document(1), "04")
    tax = world.notify(world.document(2, theme="tax"), "04")  # never the clerk's theme
    other = world.notify(world.document(3, company=C2.value), "04")  # nor company
    gone = world.notify(world.document(4, status="deleted"), "04")
    # past its validity, not yet marked expired by the expiry job: out of every list
    lapsed = world.notify(world.document(6, valid_until=world.clock.now()), "04")
    assert sender(world, smtp_relay).run().sent == 1
    assert world.statuses() == {
        payslip: "sent",
        tax: "dropped",
        other: "dropped",
        gone: "dropped",
        lapsed: "dropped",
    }
    (mail,) = smtp_relay.relay.messages()
    assert mail["Subject"] == "1 nouveau document dans votre Digital Box"
    # the clerk's rights are withdrawn before the next document is sent: nothing goes out
    found = world.box.store.get_subscription(A)
    assert found is not None
    world.box.store.commit(
        [PutSubscription(A, found.version, found.value.with_rights(CLERK, NO_RIGHTS))], []
    )
    late = world.notify(world.document(5), "04")
    assert sender(world, smtp_relay).run().dropped == 1
    assert world.statuses()[late] == "dropped"
    assert len(smtp_relay.relay.received) == 1


def test_company_address_and_no_destination(world: World, smtp_relay: SmtpRelay) -> None:
    with world.engine.begin() as conn:
        conn.execute(
            BOX_COMPANY_CONTACTS.insert().values(
                client_id=A.value,
                company=C1.value,
                email="compta@acme.example",
                changed_at=world.clock.now(),
                changed_by="01",
            )
        )
    doc = world.document(1)
    company = world.notify(doc, None)
    nobody = world.notify(doc, None, company=C2.value)  # no address for C2
    unverified = world.notify(doc, "03")  # the access manager verified nothing
    sender(world, smtp_relay).run()
    assert world.statuses() == {company: "sent", nobody: "dropped", unverified: "dropped"}
    assert [m["To"] for m in smtp_relay.relay.messages()] == ["compta@acme.example"]
    assert world.rows()[unverified]["last_error"] == "no verified destination"


def test_temporary_failures_end_in_the_dead_letter(world: World, smtp_relay: SmtpRelay) -> None:
    world.verify(PU, Channel.EMAIL, PU_MAIL)
    row = world.notify(world.document(1), "01")
    smtp_relay.relay.answer = "451 4.3.0 try again later"
    jobs = sender(world, smtp_relay, policy=RetryPolicy(attempts=3))
    seen = []
    for _ in range(3):
        counts = jobs.run()
        state = world.rows()[row]
        seen.append((state["status"], state["attempts"]))
        assert jobs.run().messages == 0  # not due before its backoff
        world.clock.advance(timedelta(hours=1))
    assert seen == [("pending", 1), ("pending", 2), ("dead", 3)]
    assert counts.dead == 1
    state = world.rows()[row]
    assert state["last_error"] == "the SMTP relay answered 451"
    assert PU_MAIL not in state["last_error"]
    assert state["lease_until"] is None
    assert state["leased_by"] is None
    assert smtp_relay.relay.received == []


def test_backoff_grows_and_is_bounded(world: World, smtp_relay: SmtpRelay) -> None:
    world.verify(PU, Channel.EMAIL, PU_MAIL)
    row = world.notify(world.document(1), "01")
    smtp_relay.relay.answer = "421 4.7.0 busy"
    jobs = sender(world, smtp_relay)  # one minute, doubling, jitter drawn as 0: half of it
    waits = []
    for _ in range(4):
        before = world.clock.now()
        jobs.run()
        nxt = world.rows()[row]["next_attempt_at"]
        waits.append(nxt - before)
        world.clock.at = nxt
    assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240)]


def test_a_permanent_refusal_is_a_bounce(
    world: World, smtp_relay: SmtpRelay, sms_hook: SmsProvider
) -> None:
    world.verify(PU, Channel.EMAIL, PU_MAIL)
    world.verify(ADMIN, Channel.SMS, ADMIN_PHONE)
    mail_row = world.notify(world.document(1), "01")
    sms_row = world.notify(world.document(2), "02")
    smtp_relay.relay.answer = "550 5.1.1 mailbox unavailable"
    sms_hook.answer(400)
    counts = sender(world, smtp_relay, sms_hook).run()
    assert counts.bounced == 2
    rows = world.rows()
    assert (rows[mail_row]["status"], rows[mail_row]["attempts"]) == ("bounced", 1)
    assert rows[mail_row]["last_error"] == "the SMTP relay answered 550 (permanent)"
    assert rows[sms_row]["status"] == "bounced"


def test_an_asynchronous_bounce_is_recorded(world: World, smtp_relay: SmtpRelay) -> None:
    world.verify(PU, Channel.EMAIL, PU_MAIL)
    row = world.notify(world.document(1), "01")
    sender(world, smtp_relay).run()
    (mail,) = smtp_relay.relay.messages()
    outbox = Outbox(world.engine, "admin")
    assert outbox.record_bounce(mail["Message-ID"], "5.1.1 user unknown (DSN)") == 1
    assert world.rows()[row]["status"] == "bounced"
    assert outbox.record_bounce(mail["Message-ID"], "again") == 0
    assert outbox.record_bounce("<unknown@bank.example>", "x") == 0


def test_a_crashed_workers_rows_go_out_once_leases_run_out(
    world: World, smtp_relay: SmtpRelay
) -> None:
    world.verify(PU, Channel.EMAIL, PU_MAIL)
    ids = [world.notify(world.document(n), "01") for n in range(3)]
    crashed = Outbox(world.engine, "crashed")
    (digest,) = crashed.claim(world.clock.now(), timedelta(minutes=5), lambda i: "<x@y>")
    assert sorted(r.id for r in digest.rows) == sorted(ids)
    # the worker dies (after sending, or before: the row cannot tell) and never finishes
    other = sender(world, smtp_relay, worker="w2")
    assert other.run().messages == 0  # leased: nobody else takes them
    world.clock.advance(timedelta(minutes=6))
    assert other.run().sent == 3
    (mail,) = smtp_relay.relay.messages()
    assert mail["Message-ID"] == "<x@y>"  # the crashed worker's Message-ID: a duplicate is seen
    # the crashed worker's late answer changes nothing
    assert crashed.finish([]) == 0
    with world.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM box_notifications")).scalar() == 3
    assert set(world.statuses().values()) == {"sent"}


def test_a_slow_worker_never_sends_what_another_took_over(
    world: World, smtp_relay: SmtpRelay
) -> None:
    world.verify(PU, Channel.EMAIL, PU_MAIL)
    row = world.notify(world.document(1), "01")
    slow = Outbox(world.engine, "slow")
    (digest,) = slow.claim(world.clock.now(), timedelta(minutes=5), lambda i: "<m@bank.example>")
    world.clock.advance(timedelta(minutes=6))  # the slow worker's lease ran out
    assert sender(world, smtp_relay, worker="fast").run().sent == 1
    assert not slow.hold(digest, world.clock.now(), timedelta(minutes=5))  # it sends nothing
    assert world.statuses() == {row: "sent"}
    assert len(smtp_relay.relay.received) == 1
