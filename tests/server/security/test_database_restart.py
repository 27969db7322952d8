"""PostgreSQL restarted under load (issue 18, "Faults"): clean 503s, recovery without a server
restart, no pool leak, nothing acknowledged lost.

A real ``securebox serve --workers 2`` runs on a PostgreSQL cluster of the test's own
(:mod:`tests.server.pgcluster`; the machine's PostgreSQL is never stopped). Threads drive
load: code logins through the pages and the JSON API, the authenticated home page, the
API's document list. The cluster is stopped (``pg_ctl stop -m immediate``: a crash; then
``-m fast``, alternately, ``SECUREBOX_PG_RESTART_LOOPS`` restarts, default 2), left down
for :data:`DOWN_S`, and started again. Checked:

* while it is down, every answer is a 503 with ``Retry-After``: the error page for pages,
  an RFC 9457 ``application/problem+json`` document under ``/api/``; never a 500, never a
  trace, a driver's message or the database's address (OWASP ASVS 5.0 16.5.1: a generic
  message, no stack trace or internal detail; 16.5.3: the application fails securely);
* once it is back, the same server processes answer 2xx again within
  :data:`RECOVERY_S` seconds, and go on doing so, with the same worker processes (ASVS
  16.5.2: the service goes on when an external resource fails and comes back);
* the connections of the database in ``pg_stat_activity`` never exceed the processes'
  pools (engines x (``pool_size`` + ``max_overflow``) x processes), under load, while
  recovering and after; once idle after the restarts, the pools' checked-out connections
  (``securebox_db_pool_checked_out`` on ``/metrics``) are no more than the read connections
  kept aside (``KEEP`` per engine and worker): none was lost with the database (ASVS 15.2.2:
  resources bounded against exhaustion);
* every session whose login answered 2xx before a stop still opens the home page and the
  API after it: a crash of the database loses nothing acknowledged (threats T47, T48);
* ``securebox jobs worker`` (a pass a second) logs its failed passes while the database
  is down, keeps running, and passes again once it is back.

The time from ``pg_ctl start`` returning to the first 2xx that needs the database is
printed (``-s``) for the notes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
import psycopg
import pytest

from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.identity import Principal
from securebox_auth.stores.sql.engine import DatabaseSettings
from securebox_auth.stores.sql.read_connections import KEEP
from securebox_server.demo_data import prepare
from securebox_server.settings import load_settings
from securebox_server.wiring import build_securebox, migrate_database, write_master_key
from tests.server.box.e2e.processes import _descendants
from tests.server.live.conftest import SOURCE, _free_port, _stop, _wait_ready, token
from tests.server.pgcluster import Cluster, StopMode, cluster  # noqa: F401 (a fixture, by name)

#: Restarts (``SECUREBOX_PG_RESTART_LOOPS``, default 2: one crash-like, one fast; ~8 s each).
LOOPS: Final = max(1, int(os.environ.get("SECUREBOX_PG_RESTART_LOOPS", "") or "2"))
WORKERS: Final = 2
DOWN_S: Final = 2.0
#: The bound on the first 2xx after PostgreSQL is back.
RECOVERY_S: Final = 10.0
CODE: Final = "47120938"
DATABASE: Final = "securebox"
#: Engines a server worker opens on the database: the store's (documents and catalogue
#: share it), the rate limits' and the step-up orders'.
ENGINES: Final = 3
#: Requests answered without the database (the identifier form): 200 while it is down.
WITHOUT_DATABASE: Final = frozenset({("GET", "/login")})
#: Words that would betray the stack behind a 503.
LEAKS: Final = (
    "traceback", "psycopg", "sqlalchemy", "operationalerror", "interfaceerror", "dbapi",
    "postgres", "connection refused", "server closed", "127.0.0.1:",
)  # fmt: skip


@dataclass(frozen=True)
class Answer:
    """One request of the load: when it started and ended, what came back."""

    started: float
    ended: float
    method: str
    path: str
    status: int  # 0: a transport error
    content_type: str
    retry_after: str | None
    body: str


@dataclass
class Load:
    """Threads logging in and browsing until :attr:`stop` is set; every answer recorded."""

    base: str
    answers: list[Answer] = field(default_factory=list)
    #: Sessions acknowledged (a login that answered 2xx): cookies of the pages, API tokens.
    cookies: list[httpx.Cookies] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next_address: int = 0

    def client(self) -> httpx.Client:
        with self.lock:
            self._next_address += 1
            n = self._next_address
        return httpx.Client(
            base_url=self.base,
            headers={
                "X-Forwarded-For": f"198.18.{n // 250}.{n % 250 + 1}",
                "Accept-Language": "en",
            },
            limits=httpx.Limits(max_keepalive_connections=0),
            timeout=30,
        )

    def call(self, http: httpx.Client, method: str, path: str, **kwargs: object) -> Answer:
        started = time.monotonic()
        try:
            r = http.request(method, path, follow_redirects=False, **kwargs)  # type: ignore[arg-type]
            status, ctype, retry, body = (
                r.status_code, r.headers.get("content-type", ""), r.headers.get("retry-after"),
                r.text,
            )  # fmt: skip
        except httpx.TransportError as error:
            status, ctype, retry, body = 0, "", None, repr(error)
        answer = Answer(started, time.monotonic(), method, path, status, ctype, retry, body)
        with self.lock:
            self.answers.append(answer)
        return answer

    def web(self, principal: Principal) -> None:
        """Page logins with the code, then the home page a few times."""
        while not self.stop.is_set():
            with self.client() as http:
                client, user = principal.client_id.value, principal.user_number.value
                page = self.call(http, "GET", "/login")
                if page.status != 200:
                    continue
                page = self.call(
                    http,
                    "POST",
                    "/login",
                    data={"client_id": client, "csrf_token": token(page.body)},
                )
                if page.status != 200:
                    continue
                data = {"client_id": client, "user_number": user, "csrf_token": token(page.body)}
                if self.call(http, "POST", "/login/user", data=data).status != 303:
                    continue
                page = self.call(http, "GET", "/login/code")
                if page.status != 200:
                    continue
                done = self.call(
                    http, "POST", "/login/code", data={"code": CODE, "csrf_token": token(page.body)}
                )
                if done.status != 303:
                    continue
                home = self.call(http, "GET", "/home")
                if home.status == 200:
                    with self.lock:
                        self.cookies.append(httpx.Cookies(http.cookies))
                for _ in range(3):
                    self.call(http, "GET", "/home")

    def api(self, principal: Principal) -> None:
        """API logins (token delivery), then the document list a few times."""
        while not self.stop.is_set():
            with self.client() as http:
                body = {
                    "client_id": principal.client_id.value,
                    "user_number": principal.user_number.value,
                }
                flow = self.call(http, "POST", "/api/v1/login/flows", json=body)
                if flow.status != 201:
                    continue
                flow_id = json.loads(flow.body)["id"]
                done = self.call(
                    http, "POST", f"/api/v1/login/flows/{flow_id}/answers",
                    json={"method": "confidential_code", "code": CODE},
                )  # fmt: skip
                if done.status != 200:
                    continue
                session = json.loads(done.body).get("session")
                if session is None:
                    continue
                bearer = {"Authorization": f"Bearer {session['token']}"}
                listed = self.call(http, "GET", "/api/v1/documents", headers=bearer)
                if listed.status == 200:
                    with self.lock:
                        self.tokens.append(session["token"])
                for _ in range(3):
                    self.call(http, "GET", "/api/v1/documents", headers=bearer)

    def since(self, moment: float) -> list[Answer]:
        with self.lock:
            return [a for a in self.answers if a.started >= moment]

    def between(self, start: float, end: float) -> list[Answer]:
        """Answers to requests sent and answered inside ``[start, end]``."""
        with self.lock:
            return [a for a in self.answers if a.started >= start and a.ended <= end]


@dataclass(frozen=True)
class Deployment:
    base: str
    cluster: Cluster
    users: list[Principal]
    process: subprocess.Popen[bytes]
    #: ``securebox jobs worker --interval 1`` and its output.
    jobs: subprocess.Popen[bytes]
    jobs_log: Path
    #: The server's log (the supervisor says there why it replaced a worker).
    serve_log: Path

    def jobs_passes(self) -> int:
        """Passes of the jobs worker that ended well (each logs its notifications line)."""
        passes = 0
        for line in self.jobs_log.read_text(errors="replace").splitlines():
            try:  # the worker's log is JSON lines (securebox_server.logs)
                message = json.loads(line).get("message", "")
            except (ValueError, AttributeError):
                continue
            passes += isinstance(message, str) and message.startswith("notifications: ")
        return passes


@pytest.fixture(scope="module")
def deployment(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:  # noqa: F811
    home = tmp_path_factory.mktemp("pgrestart")
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {DATABASE}")
    url = cluster.url(DATABASE)
    key = home / "master.key"
    write_master_key(key)
    port = _free_port()
    settings_file = home / "settings.toml"
    lines = [
        f'database_url = "{url}"',
        f'master_key_file = "{key}"',
        f'public_url = "http://localhost:{port}"',
        'trusted_proxies = ["127.0.0.1"]',
        f'policy = "{prepare(home)["SECUREBOX_POLICY"]}"',
        # the limits stay on (their storage is one more pool on the database), but the
        # threads log the same four accounts in again and again
        "[rate_limits]",
        '"login.account" = "100000/day"',
        # and list their documents again and again (300 a minute per user by default)
        '"api.documents" = "100000/minute"',
    ]
    settings_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = load_settings({}, settings_file)
    migrate_database(url)
    box = build_securebox(settings, argon2=PROFILE_TESTING)
    users = []
    try:
        for n in range(4):
            principal = Principal.parse(f"{910_000_001 + n:09d}", "01")
            letter = box.codes.create_subscription(Operator("back-office"), principal)
            client, user = principal.client_id.value, principal.user_number.value
            assert box.codes.change_code(client, user, letter.reveal(), CODE).changed
            box.store.commit([box.factors.renewal_change(principal, "web", box.clock.now())], [])
            users.append(principal)
    finally:
        box.store.engine.dispose()  # type: ignore[attr-defined]
    with ExitStack() as stack:
        command = ["serve", "--workers", str(WORKERS), "--port", str(port)]
        process = stack.enter_context(_started(home / "serve.log", *command, settings_file))
        jobs_log = home / "jobs.log"
        jobs = stack.enter_context(
            _started(jobs_log, "jobs", "worker", "--interval", "1", settings_file)
        )
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, process, 60)
        yield Deployment(base, cluster, users, process, jobs, jobs_log, home / "serve.log")


@contextmanager
def _started(log: Path, *arguments: str | Path) -> Iterator[subprocess.Popen[bytes]]:
    """``securebox *arguments --settings`` (the last argument) in a process group of its
    own, output to ``log``; SIGTERM to that group at the end (:func:`_stop`)."""
    *command, settings = arguments
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [sys.executable, "-m", "securebox_auth.cli", *map(str, command)]
    argv += ["--settings", str(settings)]
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop(process)


def connections(found: Cluster) -> int:
    """Connections to the server's database, from a connection to another one."""
    with psycopg.connect(found.url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (DATABASE,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def checked_out(base: str) -> dict[str, int]:
    """``securebox_db_pool_checked_out`` of ``/metrics``, by pool."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    found = re.findall(r'^securebox_db_pool_checked_out\{pool="(\w+)"\} (\S+)$', text, re.M)
    return {pool: int(float(value)) for pool, value in found}


def wait_for(check: Callable[[], bool], seconds: float) -> float:
    """Poll ``check`` until true; the time it took (fails after ``seconds``)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "timed out"
        time.sleep(0.05)
    return time.monotonic() - started


def assert_clean_503(answer: Answer) -> None:
    where = f"{answer.method} {answer.path}"
    if (answer.method, answer.path) in WITHOUT_DATABASE and answer.status == 200:
        return
    assert answer.status == 503, (where, answer.status, answer.body[:300])
    assert answer.retry_after is not None, where
    assert answer.retry_after.isdigit(), where
    lowered = answer.body.lower()
    leaked = [word for word in LEAKS if word in lowered]
    assert not leaked, (where, leaked)
    if answer.path.startswith("/api/"):
        assert answer.content_type.startswith("application/problem+json"), where
        problem = json.loads(answer.body)
        assert problem["status"] == 503, problem
        assert problem["code"] == "unavailable", problem
    else:
        assert answer.content_type.startswith("text/html"), where


def restart(load: Load, deployment: Deployment, mode: StopMode) -> float:
    """Stop PostgreSQL (``mode``) under ``load`` for :data:`DOWN_S`, start it again; check
    the answers while it was down and after; the time from ``pg_ctl start`` returning to the
    first 2xx of a session opened before the stop."""
    pg = deployment.cluster
    with load.lock:
        cookies, tokens = list(load.cookies), list(load.tokens)
    pg.stop(mode)
    down = time.monotonic()
    time.sleep(DOWN_S)
    up_called = time.monotonic()
    pg.start()
    up = time.monotonic()
    probe = {"Authorization": f"Bearer {tokens[-1]}"}
    with load.client() as http:
        first_2xx = wait_for(
            lambda: load.call(http, "GET", "/api/v1/documents", headers=probe).status == 200,
            RECOVERY_S,
        )
    passes = deployment.jobs_passes()
    first_pass = wait_for(lambda: deployment.jobs_passes() > passes + 1, RECOVERY_S)
    print(
        f"\n{mode}: pg_ctl start {up - up_called:.2f} s, then first 2xx in {first_2xx:.2f} s,"
        f" jobs passes again within {first_pass:.2f} s more"
    )
    while_down = load.between(down, up_called)
    assert len(while_down) >= 4, "too little load while PostgreSQL was down"
    for answer in while_down:
        assert_clean_503(answer)
    settled = time.monotonic() + 1.0
    time.sleep(2.0)
    # while starting and after: 2xx/3xx or a clean 503; once settled, no failure at all
    for answer in load.since(up_called):
        if not 200 <= answer.status < 400:
            assert_clean_503(answer)
    late = [(a.path, a.status) for a in load.since(settled) if not 200 <= a.status < 400]
    assert not late, late
    # nothing acknowledged before the stop is lost: the sessions still open
    with load.client() as http:
        for jar in cookies[-3:]:
            http.cookies = jar
            assert http.get("/home").status_code == 200
        http.cookies = httpx.Cookies()
        for token_ in tokens[-3:]:
            bearer = {"Authorization": f"Bearer {token_}"}
            assert http.get("/api/v1/documents", headers=bearer).status_code == 200
    return first_2xx


def test_postgresql_restart_under_load(deployment: Deployment) -> None:
    """PostgreSQL stopped (crash-like, then fast) and started again under page and API load:
    503 with ``Retry-After`` while down (problem+json under ``/api``, no 500, no trace or
    driver message), 2xx again within :data:`RECOVERY_S` without restarting the server,
    connections bounded by the pools and none left checked out, acknowledged sessions
    kept. OWASP ASVS 5.0 16.5.1, 16.5.2, 16.5.3, 15.2.2."""
    pg, base = deployment.cluster, deployment.base
    defaults = DatabaseSettings()
    # the server's workers and the jobs worker (its engines are no more than a worker's)
    bound = ENGINES * (defaults.pool_size + defaults.max_overflow) * (WORKERS + 1)
    idle_bound = ENGINES * KEEP * WORKERS  # read connections kept aside, per engine
    workers = set(_descendants(deployment.process.pid))
    load = Load(base)
    jobs = [load.web, load.api, load.web, load.api]
    threads = [
        threading.Thread(target=job, args=(user,), daemon=True)
        for job, user in zip(jobs, deployment.users, strict=True)
    ]
    peak = 0
    for thread in threads:
        thread.start()
    try:
        warm = time.monotonic()
        wait_for(lambda: len(load.cookies) >= 2 and len(load.tokens) >= 2, 30)
        failed = [(a.path, a.status) for a in load.since(warm) if not 200 <= a.status < 400]
        assert not failed, failed
        for loop in range(LOOPS):
            peak = max(peak, connections(pg))
            restart(load, deployment, "immediate" if loop % 2 == 0 else "fast")
            peak = max(peak, connections(pg))
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=40)
    assert peak <= bound, (peak, bound)
    # idle: every request has given its connections back (each worker samples its pools
    # after every request: a few requests reach both)
    for _ in range(10):
        httpx.get(f"{base}/healthz", timeout=10)
    pools = checked_out(base)
    assert set(pools) == {"store", "rate_limits", "orders"}, pools
    idle = sum(pools.values())
    assert idle <= idle_bound, (pools, idle_bound)
    assert connections(pg) <= bound
    assert deployment.process.poll() is None, "the server exited"
    replaced = [
        line
        for line in deployment.serve_log.read_text(errors="replace").splitlines()
        if "replaced by" in line or "Fatal Python error" in line
    ]
    assert set(_descendants(deployment.process.pid)) == workers, (
        "a worker was restarted",
        replaced,
    )
    assert deployment.jobs.poll() is None, "the jobs worker exited"
    assert "jobs pass failed" in deployment.jobs_log.read_text(errors="replace")
    print(f"connections: peak {peak} (bound {bound}); checked out when idle: {idle}")
