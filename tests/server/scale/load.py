"""A mixed load through nginx while one host dies, and the counts checked afterwards.

Lanes (threads, :func:`loadtest.client.thread_lanes`: a closed model, one request in
flight per lane):

* **login** lanes: a code login through ``/api/v1/login/flows`` (two POSTs, each from a new
  ``X-Forwarded-For`` address), then the document list with the new bearer session and
  with one of the sessions made before the run (on any host);
* **page** lanes: the home page with a browser session made through the pages before the
  run;
* **publish** lanes: a sender's publication with an ``Idempotency-Key``; a 502 or a cut
  connection is repeated with the same key (up to :data:`TRIES` times), as a client
  should when nginx may not retry a POST itself.

At :attr:`Plan.kill_at` seconds one host's server (:attr:`Plan.victim`, the first by
default) gets SIGKILL (its process group).
Every answer is tallied by method and status; :func:`check` then compares what the
clients were told with what the database holds, and runs ``securebox audit verify``.
"""

from __future__ import annotations

import collections
import itertools
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import httpx
from loadtest.client import Stats, thread_lanes
from sqlalchemy import func, select

from securebox_auth.identity import Principal
from securebox_server.db.schema import BOX_DOCUMENTS
from tests.server.box.e2e.world import pdf, publish
from tests.server.clients.helpers import bearer
from tests.server.live.conftest import CODE
from tests.server.scale.cluster import ROOT, SOURCE, Cluster

__all__ = [
    "TRIES",
    "Plan",
    "Result",
    "audit_verify",
    "check",
    "documents_count",
    "report",
    "run",
]

#: Attempts of one publication (the same key) before the lane gives it up.
TRIES: Final = 5
LIST: Final = "/api/v1/documents?limit=20"


@dataclass(frozen=True)
class Plan:
    seconds: float = 20.0
    kill_at: float = 7.0
    login_lanes: int = 3
    page_lanes: int = 2
    publish_lanes: int = 2
    #: The host killed (its index).
    victim: int = 0


@dataclass
class Result:
    """What the clients saw."""

    plan: Plan
    network: str
    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    #: Requests that got no answer from nginx at all (the client's own transport error).
    transport: collections.Counter[str] = field(default_factory=collections.Counter)
    #: Successful logins per user (a session token received).
    logins: collections.Counter[Principal] = field(default_factory=collections.Counter)
    #: Login attempts whose POST answered 5xx (the session may or may not exist).
    logins_cut: collections.Counter[Principal] = field(default_factory=collections.Counter)
    published: set[str] = field(default_factory=set)
    abandoned: set[str] = field(default_factory=set)
    repeated: int = 0
    killed_at: float = 0.0
    #: Each user's stored sessions before the run (:func:`_stored_sessions`).
    sessions_before: dict[Principal, int] = field(default_factory=dict)
    stats: dict[str, Stats] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, method: str, answer: httpx.Response) -> None:
        with self.lock:
            self.statuses[(method, answer.status_code)] += 1

    def server_errors(self, method: str) -> int:
        return sum(n for (m, s), n in self.statuses.items() if m == method and s >= 500)


class _Lanes:
    """The lanes' operations on one cluster, tallied into one :class:`Result`."""

    def __init__(self, cluster: Cluster, result: Result, users: list[Principal]) -> None:
        self.cluster, self.result, self.users = cluster, result, users
        self.addresses = itertools.count(1)
        self.run = secrets.token_hex(4)  # the publications' keys are new in every run
        self.before: list[str] = []
        self.clients: list[httpx.Client] = []

    def _client(self) -> httpx.Client:
        made = httpx.Client(base_url=self.cluster.base, timeout=60)
        self.clients.append(made)
        return made

    def _address(self) -> str:
        n = next(self.addresses)
        return f"198.18.{n // 250 % 250}.{n % 250 + 1}"

    def login(self, http: httpx.Client, who: Principal) -> str | None:
        """A code login through nginx; the session token, or None (tallied)."""
        headers = {"X-Forwarded-For": self._address()}
        body = {"client_id": who.client_id.value, "user_number": who.user_number.value}
        started = http.post("/api/v1/login/flows", json=body, headers=headers)
        self.result.saw("POST", started)
        if started.status_code != 201:
            self._cut(who, started)
            return None
        answered = http.post(
            f"/api/v1/login/flows/{started.json()['id']}/answers",
            json={"method": "confidential_code", "code": CODE},
            headers=headers,
        )
        self.result.saw("POST", answered)
        if answered.status_code != 200 or answered.json().get("state") != "done":
            self._cut(who, answered)
            return None
        with self.result.lock:
            self.result.logins[who] += 1
        token: str = answered.json()["session"]["token"]
        return token

    def _cut(self, who: Principal, answer: httpx.Response) -> None:
        if answer.status_code >= 500:
            with self.result.lock:
                self.result.logins_cut[who] += 1

    def _get(self, http: httpx.Client, path: str, headers: dict[str, str]) -> str | None:
        answer = http.get(path, headers=headers)
        self.result.saw("GET", answer)
        return None if answer.status_code == 200 else f"GET {answer.status_code}"

    def login_lane(self, lane: int) -> Callable[[int], str | None]:
        http, who = self._client(), self.users[lane]

        def operation(n: int) -> str | None:
            try:
                token = self.login(http, who)
            except httpx.TransportError:
                with self.result.lock:
                    self.result.transport["POST"] += 1
                raise
            if token is None:
                return "login"
            return self._get(http, LIST, bearer(token)) or self._get(
                http, LIST, bearer(self.before[n % len(self.before)])
            )

        return operation

    def page_lane(self, browser: httpx.Client) -> Callable[[int], str | None]:
        def operation(_: int) -> str | None:
            return self._get(browser, "/home", {})

        return operation

    def publish_lane(self, lane: int) -> Callable[[int], str | None]:
        http = self._client()

        def operation(n: int) -> str | None:
            key = f"scale-{self.run}-{lane}-{n}"
            body = pdf(lane * 100_000 + n)
            # one request, repeated as it was: a repeat with another issue date under the
            # same key is another publication, refused (422 idempotency_conflict) when the
            # first one had committed on the host killed before it answered
            issued_at = self.cluster.box.clock.now()
            for attempt in range(TRIES):
                try:
                    answer = publish(
                        http, self.cluster.sender_token, body, key=key,
                        issued_at=issued_at, timeout=60,
                    )  # fmt: skip
                except httpx.TransportError:
                    with self.result.lock:
                        self.result.transport["POST"] += 1
                    answer = None
                if answer is not None:
                    self.result.saw("POST", answer)
                    if answer.status_code in (200, 201):
                        done = answer.json()["results"][0]["status"] == "published"
                        with self.result.lock:
                            self.result.published.add(key)
                            self.result.repeated += attempt > 0
                        return None if done else "not published"
                    if answer.status_code < 500:
                        break
                time.sleep(0.2)
            with self.result.lock:
                self.result.abandoned.add(key)
            return "publication given up"

        return operation


def run(
    cluster: Cluster, plan: Plan, users: list[Principal], browsers: list[httpx.Client]
) -> Result:
    """The lanes for ``plan.seconds``, the first host killed at ``plan.kill_at``;
    ``users`` (one a login lane) log in with the code alone, ``browsers`` (one a page lane)
    hold page sessions."""
    assert len(users) >= plan.login_lanes
    assert len(browsers) >= plan.page_lanes
    result = Result(plan, cluster.network.kind)
    result.sessions_before = {u: _stored_sessions(cluster, u) for u in users}
    lanes = _Lanes(cluster, result, users)
    http = lanes._client()
    lanes.before = [t for t in (lanes.login(http, u) for u in users) if t is not None]
    assert len(lanes.before) == len(users), "the logins before the run failed"
    operations = {
        "login": [lanes.login_lane(i) for i in range(plan.login_lanes)],
        "page": [lanes.page_lane(b) for b in browsers[: plan.page_lanes]],
        "publish": [lanes.publish_lane(i) for i in range(plan.publish_lanes)],
    }
    names = [name for name, ops in operations.items() for _ in ops]
    start = time.perf_counter()

    def kill() -> None:
        result.killed_at = time.perf_counter() - start
        cluster.hosts[plan.victim].kill()

    timer = threading.Timer(plan.kill_at, kill)
    timer.start()
    try:
        samples = thread_lanes([op for ops in operations.values() for op in ops], plan.seconds)
    finally:
        timer.cancel()
        timer.join()
        for client in lanes.clients:
            client.close()
    end = time.perf_counter()
    for name in operations:
        mine = [s for s, n in zip(samples, names, strict=True) if n == name]
        result.stats[name] = Stats.of(mine, start, end)
    return result


def _stored_sessions(cluster: Cluster, who: Principal) -> int:
    """``who``'s sessions in the store, those past their idle timeout included."""
    return len(cluster.box.sessions.sessions_of(who))


def documents_count(cluster: Cluster) -> int:
    with cluster.documents.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(BOX_DOCUMENTS)).scalar_one())


def check(cluster: Cluster, result: Result, documents_before: int) -> list[str]:
    """What is wrong: server errors nginx did not hide, sessions or documents lost or
    doubled. Empty when all is well."""
    problems = []
    if (got := result.server_errors("GET")) != 0:
        problems.append(f"{got} GET answered 5xx (nginx retries those on the next host)")
    bad_posts = {s: n for (m, s), n in result.statuses.items() if m == "POST" and s >= 500}
    if set(bad_posts) - {502}:
        problems.append(f"POSTs answered {bad_posts}: only 502 (cut in flight) may pass")
    in_flight = result.plan.login_lanes + result.plan.publish_lanes
    if sum(bad_posts.values()) + result.transport["POST"] > in_flight:
        problems.append(f"POSTs cut {bad_posts}: more than the {in_flight} lanes in flight")
    for who, acked in result.logins.items():  # the login before the run counted too
        sessions = _stored_sessions(cluster, who) - result.sessions_before[who]
        cut = result.logins_cut[who]
        if not acked <= sessions <= acked + cut:
            problems.append(f"{who.key}: {acked} logins answered, {cut} cut, {sessions} sessions")
    if result.abandoned:
        problems.append(f"{len(result.abandoned)} publications given up (refused, or 5xx {TRIES}x)")
    stored = documents_count(cluster) - documents_before
    if not len(result.published) <= stored <= len(result.published) + len(result.abandoned):
        problems.append(
            f"{stored} documents stored, {len(result.published)} acknowledged, "
            f"{len(result.abandoned)} given up"
        )
    return problems


def audit_verify(cluster: Cluster) -> str:
    """``securebox audit keygen / anchor / checkpoint --all-tenants / verify`` on the
    cluster's database, each a process of its own; ``verify``'s report (raises on failure)."""
    home = cluster.home
    key = home / "audit.key"
    key.write_text(cluster.box.store.audit_keys.to_hex(), encoding="ascii")  # type: ignore[attr-defined]
    url = str(cluster.box.store.engine.url.render_as_string(hide_password=False))  # type: ignore[attr-defined]
    database = ["--url", url, "--audit-key-file", str(key)]
    signing, public, points = home / "audit.pem", home / "audit.pub.pem", home / "points.jsonl"
    out = ""
    for arguments in (
        ["keygen", "--signing-key", str(signing), "--public-key", str(public)],
        ["anchor", *database],
        ["checkpoint", *database, "--checkpoint", str(points), "--signing-key", str(signing),
         "--all-tenants"],
        ["verify", *database, "--checkpoint", str(points), "--public-key", str(public)],
    ):  # fmt: skip
        done = subprocess.run(  # noqa: S603 - our interpreter, our arguments
            [sys.executable, "-m", "securebox_auth.cli", "audit", *arguments],
            env={"PYTHONPATH": f"{ROOT}:{SOURCE}", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        out = done.stdout + done.stderr
        if done.returncode != 0:
            raise RuntimeError(f"securebox audit {arguments[0]}: {out}")
    return out.strip()


def report(result: Result) -> str:
    """A Markdown summary of the run."""
    plan = result.plan
    lines = [
        f"network: {result.network}; {plan.seconds:g} s; host {chr(65 + plan.victim)} "
        f"killed (SIGKILL) at "
        f"{result.killed_at:.1f} s; lanes: {plan.login_lanes} login, {plan.page_lanes} page, "
        f"{plan.publish_lanes} publish",
        "",
        "| mix | operations | errors | per second | p50 ms | p95 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in result.stats.items():
        lines.append(
            f"| {name} | {s.operations} | {s.errors} | {s.rate:.1f} | {s.p50 * 1000:.0f} "
            f"| {s.p95 * 1000:.0f} | {s.p99 * 1000:.0f} |"
        )
    answers = ", ".join(f"{m} {s}: {n}" for (m, s), n in sorted(result.statuses.items()))
    lines += [
        "",
        f"answers: {answers}",
        f"no answer from nginx: {dict(result.transport) or 0}",
        f"logins: {sum(result.logins.values())} answered, "
        f"{sum(result.logins_cut.values())} cut (5xx)",
        f"publications: {len(result.published)} acknowledged ({result.repeated} after a "
        f"repeat with the same key), {len(result.abandoned)} given up",
    ]
    return "\n".join(lines)
