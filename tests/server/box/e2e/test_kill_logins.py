"""Kill -9 of the server during logins (issue 18, "Faults").

A real ``securebox serve --workers 2`` (PostgreSQL, a scratch database; SQLite, a file). In
each iteration the clock moves to a new TOTP time step and :data:`LOGINS` users log in at
once, each from its own thread on new connections (the code, then a TOTP code), while
:data:`FAILING` others post wrong codes; every uvicorn worker gets SIGKILL while a TOTP
answer is in flight, or one while a wrong code is (every third iteration the whole server,
started again). A
journey whose request broke starts again with a new flow and the TOTP code of the moment.

After each iteration, what is provable from the clients' side:

* every login answered ``done`` has its session in the store, for that user; a retry after
  a TOTP answer lost in the kill may be let in by the code alone (the lost answer had
  committed: its strong login counts, RTS art. 10), and then that answer's session exists;
* per user and time step at most one session (a TOTP code opened at most one, even when
  the answer that spent it was lost), and a replay of an accepted code is refused;
* a failing user's code failures are at least the refusals answered and at most those
  plus the answers lost in the kill (none counted twice, none lost), and its lockout state
  agrees with them (open: fewer than five);
* sessions and their ``login.decision`` events go together (same commit), and so do the
  failures counted and the failure events;
* ``securebox audit verify`` (anchor, checkpoint, verify: the CLI) passes.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import httpx
import pytest

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import Clock
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.factors.totp_verify import code_at
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import BlockStatus, Element, LockoutState, block_status
from securebox_auth.stores.protocols import PutLockout
from tests.server.box.e2e.conftest import LOOPS_ENV, LiveParts, fault_loops
from tests.server.box.e2e.faults import (
    AuditCli,
    Clients,
    InFlight,
    Server,
    raise_limits,
    totp_users,
)
from tests.server.box.e2e.world import CODE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        LOOPS_ENV not in os.environ,
        reason=f"kill -9 loops of the server: set {LOOPS_ENV}=N or run nox -s box_faults",
    ),
]
LOGINS = 10
FAILING = 3
WRONG = "11111111"
FLOWS = "/api/v1/login/flows"


@dataclass
class Tally:
    """One iteration as the clients saw it."""

    #: user -> the session token of its login answered ``done``, and the TOTP code spent.
    done: dict[Principal, tuple[str, str]] = field(default_factory=dict)
    #: Wrong codes answered ``422`` / answers lost in the kill, per failing user.
    refused: Counter[Principal] = field(default_factory=Counter)
    lost: Counter[Principal] = field(default_factory=Counter)
    #: The TOTP codes of each user whose answer was lost in the kill (maybe spent).
    spent: defaultdict[Principal, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: user -> the session token of a login answered ``done`` on the code alone: a TOTP
    #: answer lost in the kill had committed, and its strong login lets the code alone in
    #: until the iteration's end (RTS art. 10)
    code_only: dict[Principal, str] = field(default_factory=dict)
    broken: int = 0
    #: The TOTP answers and the wrong codes in flight (a kill may wait for one of them).
    totp: InFlight = field(default_factory=InFlight)
    wrong: InFlight = field(default_factory=InFlight)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _totp_now(credential: TotpCredential, clock: Clock) -> str:
    return code_at(credential, clock.now())


def _client(base: str) -> httpx.Client:
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection each time
    return httpx.Client(base_url=base, timeout=30, limits=limits)


def _post(http: httpx.Client, flight: InFlight, path: str, body: dict[str, str]) -> httpx.Response:
    with flight:
        answer = http.post(path, json=body)
    assert answer.status_code < 500, answer.text  # never a 5xx: a lost answer is a broken one
    return answer


def _start(http: httpx.Client, flight: InFlight, who: Principal) -> str:
    body = {"client_id": who.client_id.value, "user_number": who.user_number.value}
    started = _post(http, flight, FLOWS, body)
    assert started.status_code == 201, started.text
    flow_id: str = started.json()["id"]
    return flow_id


def _answer(
    http: httpx.Client, flight: InFlight, flow_id: str, method: str, code: str
) -> httpx.Response:
    return _post(http, flight, f"{FLOWS}/{flow_id}/answers", {"method": method, "code": code})


def _login(
    base: str, who: Principal, totp: Callable[[], str], flight: InFlight, tally: Tally
) -> None:
    """The code, then the TOTP code of the moment (``totp()``); again on a new flow when a
    request broke."""
    with _client(base) as http:
        deadline = time.monotonic() + 120  # a restart of the whole server included
        while time.monotonic() < deadline:
            code = ""
            try:
                flow_id = _start(http, flight, who)
                coded = _answer(http, flight, flow_id, "confidential_code", CODE)
                assert coded.status_code == 200, coded.text
                if coded.json()["state"] == "done":  # only after a lost TOTP answer
                    assert tally.spent[who], coded.text
                    with tally.lock:
                        tally.code_only[who] = coded.json()["session"]["token"]
                    return
                assert "totp" in coded.json()["offered"], coded.text
                code = totp()
                with tally.totp:
                    done = _answer(http, flight, flow_id, "totp", code)
            except httpx.TransportError as broke:
                sent = not isinstance(broke, httpx.ConnectError)  # refused: never sent
                with tally.lock:
                    tally.broken += sent
                    if code and sent:
                        tally.spent[who].add(code)  # maybe spent: a refusal is now allowed
                time.sleep(0.2)
                continue
            if done.status_code in (410, 422) and code in tally.spent[who]:
                return  # the lost answer spent the code (proven below: its session exists)
            assert done.status_code == 200, done.text
            assert done.json()["state"] == "done", done.text
            with tally.lock:
                tally.done[who] = (done.json()["session"]["token"], code)
            return
    raise AssertionError(f"{who.key} never got an answer")


def _fail(base: str, who: Principal, flight: InFlight, tally: Tally, tries: int) -> None:
    """``tries`` wrong codes, each on a flow of its own."""
    with _client(base) as http:
        for _ in range(tries):
            try:
                flow_id = _start(http, flight, who)
            except httpx.TransportError:
                continue  # no answer was sent: nothing to count
            try:
                with tally.wrong:
                    refused = _answer(http, flight, flow_id, "confidential_code", WRONG)
            except httpx.ConnectError:
                continue  # never sent
            except httpx.TransportError:
                with tally.lock:
                    tally.lost[who] += 1
                continue
            assert refused.status_code == 422, refused.text
            with tally.lock:
                tally.refused[who] += 1


def _events(parts: LiveParts, who: Principal) -> Counter[tuple[str, str]]:
    """The (kind, outcome) of ``who``'s login events in their subscription's chain."""
    return Counter(
        (sealed.event.action, sealed.event.outcome)
        for sealed in parts.box.audit_log(who.client_id.value)
        if sealed.event.subject == who.key
    )


def _reset(parts: LiveParts, users: list[Principal]) -> None:
    """Every lockout state cleared (an administrator's unblock), and the last strong login
    of each user put back beyond the 180 days of RTS article 10 (the next login takes a
    TOTP code again, not the code alone)."""
    box, now = parts.box, parts.clock.now()
    for who in users:
        found = box.store.get_lockout(who)
        event = AuditEvent.make(now, "test.reset", actor="test", subject=who.key, outcome="ok")
        renewal = box.factors.renewal_change(who, "web", now - timedelta(days=400))
        box.store.commit([PutLockout(who, found.version, LockoutState()), renewal], [event])


def _replay(base: str, who: Principal, totp: str) -> None:
    """A new flow with the code and the TOTP code already accepted: refused."""
    flight = InFlight()
    with _client(base) as http:
        flow_id = _start(http, flight, who)
        coded = _answer(http, flight, flow_id, "confidential_code", CODE)
        assert coded.status_code == 200, coded.text
        assert coded.json()["state"] != "done", coded.text
        again = _answer(http, flight, flow_id, "totp", totp)
    assert again.status_code in (410, 422), again.text  # refused, or the flow ended for it


def _loop(parts: LiveParts, loops: int) -> None:
    raise_limits(parts)
    users = totp_users(parts, [f"{20 + n}" for n in range(LOGINS)])
    failing = list(totp_users(parts, [f"{40 + n}" for n in range(FAILING)]))
    rng = random.Random(18_2026)
    server = Server(parts, rng)
    server.start()
    audit = AuditCli(parts)
    sessions: Counter[Principal] = Counter()
    code_only: Counter[Principal] = Counter()
    logins = broken = spent = refused = lost = 0
    for iteration in range(loops):
        parts.clock.advance(timedelta(seconds=30))  # a new TOTP time step for everyone
        tally, flight = Tally(), InFlight()
        clients = Clients()
        for who, credential in users.items():
            now_code = partial(_totp_now, credential, parts.clock)
            clients.start(_login, server.base, who, now_code, flight, tally)
        for who in failing:
            clients.start(_fail, server.base, who, flight, tally, rng.randint(1, 4))
        # every worker while a TOTP answer is in flight; one while a wrong code is; the
        # whole server
        aim = (tally.totp, tally.wrong, flight)[iteration % 3]
        server.kill(aim, least=1, every=iteration % 3 == 0, group=iteration % 3 == 2)
        clients.join()
        _check(parts, users, failing, tally, sessions, code_only)
        _reset(parts, [*users, *failing])
        for who, (_, accepted) in tally.done.items():
            _replay(server.base, who, accepted)
        logins, broken = logins + len(tally.done), broken + tally.broken
        spent += sum(len(codes) for codes in tally.spent.values())
        refused, lost = refused + tally.refused.total(), lost + tally.lost.total()
        audit.verify()
    print(
        f"{loops} kills ({server.group_kills} of the whole server): {logins} logins answered, "
        f"{broken} requests broken ({spent} TOTP answers lost), {refused} wrong codes "
        f"refused, {lost} lost"
    )
    server.stop()


def _check(
    parts: LiveParts,
    users: dict[Principal, TotpCredential],
    failing: list[Principal],
    tally: Tally,
    sessions: Counter[Principal],
    code_only: Counter[Principal],
) -> None:
    """The checks of the module documentation; ``sessions`` counts the sessions of each
    user and the failures of each failing user so far, ``code_only`` the sessions opened
    by the code alone after a lost TOTP answer had committed (both updated)."""
    store = parts.box.store
    for who in users:
        stored = store.sessions_of(who)
        new = len(stored) - sessions[who]
        accepted = {tally.done[who][1]} if who in tally.done else set()
        codes = tally.spent[who] | accepted  # each opens at most one session
        alone = who in tally.code_only  # and the code alone one, after a lost TOTP answer
        assert new <= len(codes) + alone, f"{who.key}: {new} sessions from {len(codes)} codes"
        tokens = [tally.done[who][0]] if who in tally.done else []
        tokens += [tally.code_only[who]] if alone else []
        for token in tokens:
            found = store.get_session(token)
            assert found is not None, f"{who.key}: an acknowledged login lost its session"
            assert found.value.principal == who
        if alone:  # the TOTP answer lost before it: it committed, so its session exists
            assert new >= 2, f"{who.key}: the code alone let in without a strong login"
        assert new >= 1, f"{who.key}: neither a login nor a session that spent its code"
        sessions[who] = len(stored)
        code_only[who] += alone
        events = _events(parts, who)
        assert events[("session.open", "success")] == sessions[who], events
        assert events[("login.totp", "success")] == sessions[who] - code_only[who], events
        state = store.get_lockout(who).value  # a refused replay of a spent code counts
        assert state.series(Element.CODE).failures == 0
        succeeded = who in tally.done or alone
        assert state.failures == (0 if succeeded else state.series(Element.TOTP).failures)
    for who in failing:
        state = store.get_lockout(who).value
        counted = state.series(Element.CODE).failures
        assert tally.refused[who] <= counted <= tally.refused[who] + tally.lost[who], (
            f"{who.key}: {counted} failures counted, {tally.refused[who]} answered, "
            f"{tally.lost[who]} lost"
        )
        assert state.failures == counted
        assert block_status(state, parts.clock.now()) is BlockStatus.OPEN
        sessions[who] += counted  # failures counted so far (the lockout is reset after this)
        events = _events(parts, who)
        assert events[("login.code", "failure")] == sessions[who], events


def test_kill_9_the_server_during_logins_postgresql(live_parts: LiveParts) -> None:
    """PSD2 RTS art. 4(3)(b) (every failed attempt counted, once); ASVS 5.0 V6.5.1 (a TOTP
    code usable once); ASVS 5.0 V7.2.4 (a session for each login answered, none other);
    ASVS 5.0 V16.4.2 (the audit trail intact)."""
    _loop(live_parts, fault_loops())


def test_kill_9_the_server_during_logins_sqlite(sqlite_parts: LiveParts) -> None:
    """As on PostgreSQL: PSD2 RTS art. 4(3)(b); ASVS 5.0 V6.5.1, V7.2.4, V16.4.2."""
    _loop(sqlite_parts, fault_loops())
