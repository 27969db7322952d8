"""Clock jumps through the server (issue 18, "Faults": clock jumps backwards and forwards).

The app's :class:`~securebox_auth.clock.FixedClock` (``make_app``, the step-up ``world``) is
moved backwards and forwards between requests, as an NTP correction or a mis-set host clock
would. Nothing may come back to life: a locked account stays locked, an expired step-up grant
stays expired, a used one-time code stays used, a sent notification is not sent again.

References: OWASP ASVS 5.0 6.3.1 (brute force controls: a lockout cannot be undone by the
attacker), 6.5.1 (a one-time code usable once), 6.5.5 (a one-time code's lifetime), 7.5.3
(a sensitive operation needs a fresh further factor); PSD2 RTS art. 4(1) (an authentication
code cannot be reused), art. 4(3)(b) (at most five failed attempts, then a block for a
period) and art. 4(3)(d) (the validity of the code is limited).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from securebox_auth.cli import main as cli_main
from securebox_auth.clock import FixedClock, Mark
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.oob import Channel
from securebox_auth.factors.totp import code_at as totp_code_at
from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.shell.gateways import FileOutbox
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.monotonic import MonotonicClock
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.protocols import PutAccount, PutSubscription
from securebox_auth.stores.sql.clock_mark import SqlClockMarks
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.app import create_app
from securebox_server.clock_cli import RESET_ACTION, reset_mark
from securebox_server.demo_data import prepare
from securebox_server.jobs.outbox import Outbox
from securebox_server.settings import Settings, load_settings
from securebox_server.wiring import build_securebox, load_master_key, write_master_key
from tests.entitlements.world import ACCOUNTS, NOW, PU, A, sub_a
from tests.server.conftest import CODE, AppMaker, identify, open_user, submit_code, token
from tests.server.jobs.conftest import SmtpRelay, sender, smtp_relay  # noqa: F401
from tests.server.jobs.conftest import World as JobsWorld
from tests.server.methods.conftest import (  # noqa: F401 (fixtures, found by name)
    EMAIL,
    PHONE,
    Enrol,
    Mailbox,
    SmsProvider,
    enrol,
    sms_provider,
    smtp_server,
)
from tests.server.rate_limits.conftest import server_sqlite_url  # noqa: F401 (a fixture)
from tests.server.stepup.conftest import World, stepup_sqlite, world  # noqa: F401
from tests.server.stepup.test_flows import TRANSFER
from tests.server.stepup.test_oob import _answer, _send, oob_world  # noqa: F401
from tests.stores.conftest import AUDIT_KEY, sqlite_template  # noqa: F401 (a fixture)

WRONG = "11111111"
CHEQUES = {"account": "12345678901", "books": "1", "delivery": "post"}


def _block(box: Securebox) -> timedelta:
    block = box.policy.lockout.temporary_block
    assert block is not None, "the default policy blocks for a period"
    return block


def _lock(client: TestClient) -> None:
    """Wrong codes until the blocked page (the policy's five)."""
    identify(client)
    for attempt in range(1, 11):
        answer = submit_code(client, WRONG)
        if answer.status_code == 403:
            assert attempt <= 6, attempt
            return
        assert answer.status_code == 401, answer.text
    raise AssertionError("never blocked")


def _try_code(client: TestClient) -> int:
    client.cookies.clear()
    identify(client)
    status: int = submit_code(client, CODE).status_code
    return status


def test_a_locked_account_is_not_unlocked_by_a_backwards_jump(make_app: AppMaker) -> None:
    """The block (``blocked_until``) holds when the clock goes back before the failures,
    and the right code is refused with the blocked page. ASVS 5.0 6.3.1; PSD2 RTS art.
    4(3)(b)."""
    client, box, clock = make_app()
    open_user(box)
    locked_at = clock.now()
    _lock(client)
    for back in (timedelta(seconds=1), timedelta(hours=1), timedelta(days=400)):
        clock.at = locked_at - back
        assert _try_code(client) == 403, back
    clock.at = locked_at + _block(box) + timedelta(seconds=1)
    assert _try_code(client) == 303  # the block ends when it should (the test can fail)


def test_a_forward_jump_shorter_than_the_block_does_not_unlock(make_app: AppMaker) -> None:
    """Forward jumps smaller than the lockout period, then back: still blocked; the right
    code is never counted as a success meanwhile. ASVS 5.0 6.3.1; PSD2 RTS art. 4(3)(b)."""
    client, box, clock = make_app()
    open_user(box)
    locked_at = clock.now()
    _lock(client)
    block = _block(box)
    for offset in (block / 2, block - timedelta(seconds=1), -block, block / 3):
        clock.at = locked_at + offset
        assert _try_code(client) == 403, offset
    clock.at = locked_at + block
    assert _try_code(client) == 303


def test_an_expired_grant_is_not_revived_by_a_backwards_jump(world: World) -> None:  # noqa: F811
    """Approve a transfer, jump past the grant's lifetime (the execution is refused), jump
    back inside it: the execution is still refused and nothing is recorded as done. ASVS 5.0
    7.5.3; PSD2 RTS art. 4(3)(d), art. 5(1)."""
    world.login()
    order, _ = world.enter("/transfers/new", TRANSFER)
    approved_at = world.clock.now()
    assert world.prove(order, "passkey_uv").status_code == 303
    world.clock.advance(timedelta(minutes=4))  # the session stays alive (idle 5 min)
    world.client.get("/home")
    world.clock.advance(timedelta(minutes=2))  # the grant (5 min) has expired
    assert world.execute(order).status_code == 403
    world.clock.at = approved_at + timedelta(minutes=1)
    again = world.execute(order)
    assert again.status_code in (403, 409), again.text
    assert world.book().get(world.principal, order).status == "refused"
    assert world.book().payees(world.principal) == []
    assert "Done" not in world.client.get("/orders").text


def test_an_unused_grant_seen_late_is_not_revived_by_a_backwards_jump(world: World) -> None:  # noqa: F811
    """The same without an execution attempt while the clock was late: the order's page is
    viewed after the grant's lifetime, then the clock goes back. The server keeps the
    session's latest time and does not execute. ASVS 5.0 7.5.3; PSD2 RTS art. 4(3)(d)."""
    world.login()
    order, _ = world.enter("/transfers/new", TRANSFER)
    approved_at = world.clock.now()
    assert world.prove(order, "passkey_uv").status_code == 303
    world.clock.advance(timedelta(minutes=4))
    world.client.get("/home")
    world.clock.advance(timedelta(minutes=2))
    world.client.get(f"/operations/{order}")
    world.clock.at = approved_at + timedelta(minutes=1)
    result = world.execute(order)
    assert result.status_code != 200, result.text
    assert world.book().get(world.principal, order).status != "done"


def test_a_used_totp_step_is_not_accepted_after_a_backwards_jump(world: World) -> None:  # noqa: F811
    """A TOTP code used for one step-up is refused for another (in a new session) after the
    clock goes back
    30 s and 60 s (its step is still in the drift window), and so is the code of the step
    before it (RFC 6238 5.2: steps only move forward). ASVS 5.0 6.5.1; PSD2 RTS art. 4(1)."""
    world.login()
    first, _ = world.enter("/cheque-books/new", CHEQUES)
    code = world.totp_code()
    used_at = world.clock.now()
    assert world.prove(first, "totp", code=code).status_code == 303
    assert world.execute(first).status_code == 200
    for back in (timedelta(seconds=30), timedelta(seconds=60)):
        world.clock.at = used_at
        world.client.cookies.clear()  # a new code-only session (the proof made that strong)
        world.login()
        world.clock.at = used_at - back
        second, _ = world.enter("/cheque-books/new", CHEQUES)
        assert world.prove(second, "totp", code=code).status_code == 401, back
        if back == timedelta(seconds=30):  # (three failures: below the policy's limits)
            earlier = totp_code_at(world.totp, world.clock.now())
            assert world.prove(second, "totp", code=earlier).status_code == 401, back
    assert "/execute" not in world.client.get(f"/operations/{second}").text
    world.clock.at = used_at + timedelta(seconds=30)  # the next step: accepted (can fail)
    fresh = totp_code_at(world.totp, world.clock.now())
    assert world.prove(second, "totp", code=fresh).status_code == 303


def test_a_used_totp_step_at_login_is_not_accepted_after_a_backwards_jump(world: World) -> None:  # noqa: F811
    """The same at login: the second factor's code, used once, refused after the clock goes
    back 30 s in a new login. ASVS 5.0 6.5.1; PSD2 RTS art. 4(1)."""
    world.login(strong=True)
    used_at = world.clock.now()
    code = totp_code_at(world.totp, used_at)
    world.client.cookies.clear()
    world.clock.at = used_at - timedelta(seconds=30)
    identify(world.client)
    old = world.clock.now() - timedelta(days=200)
    world.box.store.commit([world.box.factors.renewal_change(world.principal, "web", old)], [])
    assert submit_code(world.client).status_code == 303
    page = world.client.get("/login/totp")
    refused = world.client.post(
        "/login/totp",
        data={"code": code, "csrf_token": token(page.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 401, refused.text
    assert world.client.get("/home", follow_redirects=False).status_code != 200


def test_a_used_oob_code_is_not_accepted_after_a_backwards_jump(
    oob_world: World,  # noqa: F811
    sms_provider: SmsProvider,  # noqa: F811
) -> None:
    """An SMS code proves a transfer once; the clock goes back (to before it was sent) and
    the same challenge and code are posted again for the same order: refused, and the order
    is not executed twice. ASVS 5.0 6.5.1, 6.5.5; PSD2 RTS art. 4(1)."""
    w = oob_world
    w.login()
    order, _ = w.enter("/transfers/new", TRANSFER)
    sent_at = w.clock.now()
    sent = _send(w, order, "sms_otp")
    assert sent.status_code == 200, sent.text
    code = sms_provider.last_code(PHONE)
    w.clock.advance(timedelta(seconds=20))
    assert _answer(w, order, "sms_otp", sent.text, code).status_code == 303
    for back in (timedelta(seconds=10), timedelta(seconds=30)):
        w.clock.at = sent_at + timedelta(seconds=20) - back
        again = _answer(w, order, "sms_otp", sent.text, code)
        assert again.status_code != 303, (back, again.text)
    second, _ = w.enter("/transfers/new", {**TRANSFER, "amount": "9.00"})
    replayed = _answer(w, second, "sms_otp", sent.text, code)
    assert replayed.status_code != 303, replayed.text


# -- notifications --------------------------------------------------------------------


@pytest.fixture
def jobs_world(server_sqlite_url: str, tmp_path: Path) -> Iterator[JobsWorld]:  # noqa: F811
    """The jobs tests' world (``tests/server/jobs/conftest.py``) on SQLite only."""
    engine = create_engine(server_sqlite_url)
    store = SqlStore(engine, audit_key=AUDIT_KEY)
    store.commit(
        [PutSubscription(A, 0, sub_a()), *(PutAccount(p, 0, a) for p, a in ACCOUNTS.items())], []
    )
    home = tmp_path / "demo"
    home.mkdir()
    clock = FixedClock(NOW + timedelta(days=1))
    box = Securebox.from_policy(
        Path(prepare(home)["SECUREBOX_POLICY"]),
        store=store,
        keys=DerivedKeys.generate(),
        clock=clock,
        argon2=PROFILE_TESTING,
    )
    yield JobsWorld(server_sqlite_url, engine, box, clock, FileOutbox(tmp_path / "enrol.jsonl"))
    engine.dispose()


PU_MAIL = "pu@acme.example"


def test_sent_notifications_are_not_sent_again_after_a_backwards_jump(
    jobs_world: JobsWorld,
    smtp_relay: SmtpRelay,  # noqa: F811
) -> None:
    """A digest sent, the clock moved back a minute, a day, then forward again: the worker
    finds nothing to send; one message reached the relay. ASVS 5.0 2.3.3 (a business step
    done once)."""
    w = jobs_world
    w.verify(PU, Channel.EMAIL, PU_MAIL)
    ids = [w.notify(w.document(n), "01") for n in range(3)]
    sent_at = w.clock.now()
    assert sender(w, smtp_relay).run().sent == 3
    for offset in (-timedelta(minutes=1), -timedelta(days=1), timedelta(hours=1)):
        w.clock.at = sent_at + offset
        assert sender(w, smtp_relay, worker="w2").run().messages == 0, offset
    assert len(smtp_relay.relay.received) == 1
    assert set(w.statuses().values()) == {"sent"}
    assert sorted(w.statuses()) == sorted(ids)


def test_a_lease_taken_over_after_a_forward_jump_is_not_sent_twice(
    jobs_world: JobsWorld,
    smtp_relay: SmtpRelay,  # noqa: F811
) -> None:
    """A worker claims a digest; the clock jumps past its lease, another worker sends it;
    the clock jumps back inside the first lease: the first worker can no longer hold it, a
    third run sends nothing, and the relay saw one message. ASVS 5.0 2.3.3."""
    w = jobs_world
    w.verify(PU, Channel.EMAIL, PU_MAIL)
    row = w.notify(w.document(1), "01")
    claimed_at = w.clock.now()
    slow = Outbox(w.engine, "slow")
    (digest,) = slow.claim(claimed_at, timedelta(minutes=5), lambda i: "<m@bank.example>")
    w.clock.at = claimed_at + timedelta(minutes=6)
    assert sender(w, smtp_relay, worker="fast").run().sent == 1
    w.clock.at = claimed_at + timedelta(minutes=1)
    assert not slow.hold(digest, w.clock.now(), timedelta(minutes=5))
    assert sender(w, smtp_relay, worker="third").run().messages == 0
    assert w.statuses() == {row: "sent"}
    assert len(smtp_relay.relay.received) == 1


# -- several server processes on one database (ADR 0042) ---------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    """One server process: its app, library and wall clock (which the test moves)."""

    client: TestClient
    box: Securebox
    wall: FixedClock


@pytest.fixture
def two_nodes(tmp_path: Path, migrated_sqlite: Path) -> Iterator[tuple[Node, Node]]:
    """Two servers on one SQLite database with the same keys, each on its own wall clock,
    exchanging the mark at every reading (``clock_mark_ms = 0``)."""
    shutil.copyfile(migrated_sqlite, tmp_path / "server.db")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/server.db",
        demo=True,
        rate_limits_enabled=False,
        clock_mark_ms=0,
    )
    keys = DerivedKeys.generate()
    nodes = []
    for _ in range(2):
        wall = FixedClock()
        box = build_securebox(settings, clock=wall, argon2=PROFILE_TESTING, keys=keys)
        app = create_app(settings, securebox=box, keys=keys)
        client = TestClient(app, raise_server_exceptions=False)
        nodes.append(Node(client, box, wall))
    try:
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.client.close()
            node.box.store.engine.dispose()  # type: ignore[attr-defined]


def _serve_someone(node: Node) -> None:
    """Another browser starts a login on ``node`` (the server reads its clock)."""
    with TestClient(node.client.app, raise_server_exceptions=False) as other:
        identify(other)


def test_a_session_expired_on_one_server_stays_expired_on_another(
    two_nodes: tuple[Node, Node],
) -> None:
    """A user logs in on server A; A's clock passes the idle timeout (it serves someone
    else); server B, whose host clock is behind, receives the user's cookie: the session
    has expired there too (B reads the shared mark), and it is not revived by B's touch.
    Without the shared mark B would answer 200. ASVS 5.0 7.3.1 (idle timeout), 7.5.3;
    PSD2 RTS art. 4(3)(d)."""
    a, b = two_nodes
    open_user(a.box)
    start = a.wall.now()
    identify(a.client)
    assert submit_code(a.client, CODE).status_code == 303
    b.client.cookies.update(a.client.cookies)
    b.wall.at = start + timedelta(seconds=30)
    assert b.client.get("/home", follow_redirects=False).status_code == 200  # (can fail)
    a.wall.at = start + timedelta(minutes=10)
    _serve_someone(a)
    b.wall.at = start + timedelta(minutes=1)
    assert b.box.clock.now() == start + timedelta(minutes=10)
    assert b.client.get("/home", follow_redirects=False).status_code != 200
    a.wall.at = start + timedelta(minutes=1)
    assert a.client.get("/home", follow_redirects=False).status_code != 200


def test_a_lock_holds_on_a_server_whose_clock_is_behind(two_nodes: tuple[Node, Node]) -> None:
    """The account is locked on server A; server B's host clock is a day behind: the right
    code is refused on B with the blocked page. ASVS 5.0 6.3.1; PSD2 RTS art. 4(3)(b)."""
    a, b = two_nodes
    open_user(a.box)
    _lock(a.client)
    b.wall.at = a.wall.now() - timedelta(days=1)
    assert _try_code(b.client) == 403
    b.wall.at = a.wall.now() + _block(b.box) + timedelta(seconds=1)
    assert _try_code(b.client) == 303  # the block ends when it should (the test can fail)


def test_an_operator_reset_of_the_mark_is_audited_and_adopted(
    two_nodes: tuple[Node, Node],
) -> None:
    """A host clock a year ahead pushed the mark a year ahead (time stands still for every
    server); the operator resets it: the reset is in the global audit chain (who, from,
    to, why) and both servers follow their wall clocks again. ASVS 5.0 16.3.1 (security
    events are logged), 7.5.3."""
    a, b = two_nodes
    start = a.wall.now()
    a.wall.at = start + timedelta(days=365)
    _serve_someone(a)
    a.wall.at = start
    assert b.box.clock.now() == start + timedelta(days=365)
    store = a.box.store
    assert isinstance(store, SqlStore)
    reset_mark(store, start, actor="operator/ops", reason="host ntp misconfigured, TICKET-1")
    (event,) = [e.event for e in a.box.audit_log() if e.event.action == RESET_ACTION]
    assert event.actor == "operator/ops"
    assert dict(event.details)["from"] == (start + timedelta(days=365)).isoformat()
    assert dict(event.details)["to"] == start.isoformat()
    assert b.box.clock.now() == start
    a.wall.at = start + timedelta(seconds=5)
    assert a.box.clock.now() == start + timedelta(seconds=5)
    with pytest.raises(MalformedInput):
        reset_mark(store, start, actor="operator/ops", reason=" ")


def test_the_worker_on_the_servers_clock_sends_once_through_jumps(
    jobs_world: JobsWorld,
    smtp_relay: SmtpRelay,  # noqa: F811
) -> None:
    """The notification worker as the server wires it (the library's clock that never goes
    back, sharing the mark): a digest sent, the host clock back a day, then forward: one
    message reached the relay, and the later runs saw the mark, not the earlier wall
    time. ASVS 5.0 2.3.3 (a business step done once)."""
    w = jobs_world
    w.verify(PU, Channel.EMAIL, PU_MAIL)
    w.notify(w.document(1), "01")
    monotonic = MonotonicClock(w.clock, SqlClockMarks(w.engine), interval=timedelta(0))
    sent_at = w.clock.now()
    first = sender(w, smtp_relay)
    assert replace(first, clock=monotonic).run().sent == 1
    for offset in (-timedelta(days=1), -timedelta(minutes=1), timedelta(hours=1)):
        w.clock.at = sent_at + offset
        again = replace(sender(w, smtp_relay, worker="w2"), clock=monotonic)
        assert again.run().messages == 0, offset
        assert monotonic.now() >= sent_at
    assert len(smtp_relay.relay.received) == 1
    assert set(w.statuses().values()) == {"sent"}


def test_the_clock_commands_show_and_reset_the_mark(
    tmp_path: Path,
    migrated_sqlite: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``securebox clock show`` and ``securebox clock reset`` on a deployment's settings
    file: the reset sets the stored mark (a new epoch), is sealed in the global audit chain
    with the deployment's key, and a malformed ``--to`` is a usage error that changes
    nothing. ASVS 5.0 16.3.1 (security events are logged), 7.5.3."""
    shutil.copyfile(migrated_sqlite, tmp_path / "server.db")
    url = f"sqlite:///{tmp_path}/server.db"
    key_file = tmp_path / "master.key"
    write_master_key(key_file)
    settings_file = tmp_path / "settings.toml"
    settings_file.write_text(
        f'database_url = "{url}"\nmaster_key_file = "{key_file}"\n', encoding="utf-8"
    )
    engine = create_engine(url)
    try:
        marks = SqlClockMarks(engine)
        marks.advance(NOW + timedelta(days=365), 0)
        common = ["--settings", str(settings_file)]
        assert cli_main(["clock", "show", *common]) == 0
        assert (NOW + timedelta(days=365)).isoformat() in capsys.readouterr().out
        bad = ["--to", "yesterday", "--actor", "ops", "--reason", "wrong NTP"]
        assert cli_main(["clock", "reset", *common, *bad]) == 2
        assert marks.read() == Mark(NOW + timedelta(days=365), 0)
        good = ["--to", NOW.isoformat(), "--actor", "ops", "--reason", "wrong NTP"]
        assert cli_main(["clock", "reset", *common, *good]) == 0
        assert marks.read() == Mark(NOW, 1)
        keys = load_master_key(load_settings({}, settings_file))
        store = SqlStore(engine, audit_keys=keys.audit_keyring())
        (sealed,) = [e for e in store.audit_log() if e.event.action == RESET_ACTION]
        assert sealed.event.actor == "operator/ops"
        assert dict(sealed.event.details)["reason"] == "wrong NTP"
        assert verify_audit_chains(keys.audit_keyring(), store).events[""] >= 1
    finally:
        engine.dispose()
