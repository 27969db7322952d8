"""Named leases, the passes of the jobs (periodic tasks under their leases, the SQLite
outbox lease), the wiring from the settings and ``securebox jobs run``, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from securebox_auth.cli import main
from securebox_auth.factors.oob import Channel
from securebox_server.db.schema import BOX_COMPANY_CONTACTS
from securebox_server.jobs.leases import Leases
from securebox_server.jobs.runner import OUTBOX_LEASE, Jobs, Task
from securebox_server.jobs.wiring import build_jobs
from securebox_server.settings import Settings
from tests.entitlements.world import C1, PU, A
from tests.server.jobs.conftest import PUBLIC_URL, SmtpRelay, World, sender


def test_a_lease_has_one_holder_until_it_runs_out(world: World) -> None:
    one, two = Leases(world.engine, "one"), Leases(world.engine, "two")
    now, ttl = world.clock.now(), timedelta(minutes=5)
    assert one.take("purge", now, ttl)
    assert not two.take("purge", now, ttl)
    assert one.take("purge", now + timedelta(minutes=1), ttl)  # a renewal
    assert not two.take("purge", now + timedelta(minutes=5), ttl)
    assert two.take("purge", now + timedelta(minutes=7), ttl)  # one's ran out: taken over
    one.release("purge", finished_at=now)  # not one's any more: changes nothing
    assert one.last_run("purge") is None
    two.release("purge", finished_at=now + timedelta(minutes=8))
    assert one.last_run("purge") == now + timedelta(minutes=8)
    assert one.take("purge", now + timedelta(minutes=8), ttl)  # released: free at once


def _jobs(world: World, tasks: tuple[Task, ...], holder: str = "w1") -> Jobs:
    return Jobs(
        engine=world.engine,
        sender=sender(world, worker=holder),
        leases=Leases(world.engine, holder),
        clock=world.clock,
        tasks=tasks,
    )


def test_periodic_tasks_run_when_due_under_their_lease(world: World) -> None:
    ran: list[str] = []

    def task(name: str) -> Task:
        def run() -> int:
            ran.append(name)
            return 7

        return Task(name, timedelta(minutes=10), run)

    def broken() -> int:
        raise RuntimeError("the database went away")

    jobs = _jobs(world, (task("a"), Task("broken", timedelta(minutes=1), broken), task("b")))
    report = jobs.run_once()
    assert (ran, report.tasks, report.failed) == (["a", "b"], {"a": 7, "b": 7}, ["broken"])
    world.clock.advance(timedelta(minutes=5))
    assert jobs.run_once().tasks == {}  # not due yet
    assert jobs.run_once(force=True).tasks == {"a": 7, "b": 7}  # `jobs run`: everything
    world.clock.advance(timedelta(minutes=11))
    Leases(world.engine, "other").take("a", world.clock.now(), timedelta(minutes=5))
    report = jobs.run_once()
    assert (report.tasks, report.busy) == ({"b": 7}, ["a"])
    assert _jobs(world, ()).run_once(stop=lambda: True).tasks == {}


def test_on_sqlite_one_worker_sends(world: World, smtp_relay: SmtpRelay) -> None:
    if world.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL workers share the outbox (SKIP LOCKED)")
    world.verify(PU, Channel.EMAIL, "pu@acme.example")
    world.notify(world.document(1), "01")
    Leases(world.engine, "other").take(OUTBOX_LEASE, world.clock.now(), timedelta(minutes=5))
    jobs = _jobs(world, ())
    jobs.sender.mailer = smtp_relay.gateway()
    report = jobs.run_once()
    assert (report.busy, report.notifications.sent) == ([OUTBOX_LEASE], 0)
    world.clock.advance(timedelta(minutes=6))
    assert jobs.run_once().notifications.sent == 1


def test_the_wired_jobs_send_and_purge(world: World, smtp_relay: SmtpRelay) -> None:
    world.verify(PU, Channel.EMAIL, "pu@acme.example")  # leaves a consumed challenge
    world.notify(world.document(1), "01")
    settings = Settings(
        database_url=world.url,
        demo=True,
        public_url=PUBLIC_URL,
        smtp_url=f"smtp+plain://127.0.0.1:{smtp_relay.port}?from=box@bank.example",
        notification_attempts=3,
    )
    jobs = build_jobs(settings, world.box, worker="wired")
    assert jobs.sender.policy.attempts == 3
    with world.engine.connect() as conn:
        spent = "SELECT count(*) FROM factor_states WHERE kind = 'oob'"
        assert conn.execute(sa.text(spent)).scalar() == 1
    report = jobs.run_once(force=True)
    assert report.notifications.sent == 1
    assert report.tasks["purge"] >= 1
    with world.engine.connect() as conn:
        assert conn.execute(sa.text(spent)).scalar() == 0
    (mail,) = smtp_relay.relay.messages()
    assert mail["Message-ID"].endswith("@bank.example>")


def test_jobs_run_prints_counts(
    world: World,
    smtp_relay: SmtpRelay,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
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
    company = {world.notify(world.document(1), None), world.notify(world.document(2), None)}
    monkeypatch.setenv("SECUREBOX_DATABASE_URL", world.url)
    monkeypatch.setenv("SECUREBOX_DEMO", "true")
    monkeypatch.setenv(
        "SECUREBOX_SMTP_URL", f"smtp+plain://127.0.0.1:{smtp_relay.port}?from=box@bank.example"
    )
    assert main(["jobs", "run"]) == 0
    out = capsys.readouterr().out
    # the rows above are the company's only: the users entitled now get theirs at sending
    # time (box.late_recipients), dropped for want of a verified address
    told = len(world.statuses()) - len(company)
    assert told > 0
    assert f"notifications: 1 messages, 2 sent, {told} dropped, 0 to retry, 0 dead" in out
    assert f"newly_entitled: {told}" in out
    assert "purge: " in out
    (mail,) = smtp_relay.relay.messages()
    assert main(["jobs", "bounce", "--message-id", mail["Message-ID"], "--reason", "5.1.1"]) == 0
    assert {world.statuses()[row] for row in company} == {"bounced"}
    assert main(["jobs", "bounce", "--message-id", "<none@x>"]) == 1
