"""A load run: for each database, a deployment (:mod:`.deployment`), then the mixes one
after the other, each for its share of the time, with the CPU of the server's processes
and of the database's backends read from ``/proc`` around it; then the exactness checks
(sessions, documents, audit chains); the bare argon2id rate once, on as many processes as
the server has workers.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from loadtest.bare import bare_argon2
from loadtest.client import Samples, Stats, get_lanes, get_request, thread_lanes
from loadtest.deployment import (
    Deployment,
    body_of,
    deployment,
    deployment_cookie,
    documents_count,
    logged_in,
    login,
    publish,
    published,
    sessions_count,
)

__all__ = ["Check", "MixResult", "Run", "load_run"]

_TICK: Final = os.sysconf("SC_CLK_TCK")
#: The share of each mix's time spent warming up (not counted).
WARM_UP: Final = 0.15
GET_LANES: Final = 8
POST_LANES: Final = 4


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """utime + stime of each pid still alive."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


def _used(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[p] - before.get(p, 0.0) for p in after)


@dataclass(frozen=True, slots=True)
class MixResult:
    database: str
    mix: str
    stats: Stats
    #: Cores used during the mix (CPU seconds / wall seconds): server, database, client.
    server_cpu: float
    database_cpu: float
    client_cpu: float
    #: Operations that succeeded over the whole mix (warm-up and tail included).
    succeeded: int
    #: ``succeeded`` per CPU second of the server and the database over the whole mix.
    per_cpu: float
    baseline: str


@dataclass(frozen=True, slots=True)
class Check:
    database: str
    what: str
    expected: str
    found: str

    @property
    def ok(self) -> bool:
        return self.expected == self.found


@dataclass
class Run:
    seconds: float
    workers: int
    #: Bare argon2id verifications per wall second and per CPU second.
    bare_argon2: float
    bare_argon2_cpu: float
    mixes: list[MixResult]
    checks: list[Check]


# -- the mixes ------------------------------------------------------------------------------

Mix = Callable[[Deployment, float], list[Samples]]


def _pages(path: Callable[[int], str]) -> Mix:
    def mix(d: Deployment, seconds: float) -> list[Samples]:
        assert d.world is not None
        lanes = [
            [get_request(d.port, path(n), {"Cookie": f"{deployment_cookie()}={session}"})]
            for n, session in enumerate(d.world.sessions)
        ]
        return get_lanes(d.port, lanes, seconds)

    return mix


def _health(d: Deployment, seconds: float) -> list[Samples]:
    return get_lanes(d.port, [[get_request(d.port, "/healthz", {})]] * GET_LANES, seconds)


def _downloads(d: Deployment, seconds: float) -> list[Samples]:
    assert d.world is not None
    lanes = []
    for n in range(POST_LANES):
        session = d.world.sessions[n % len(d.world.sessions)]
        headers = {"Authorization": f"Bearer {session}"}
        ids = d.world.documents[n:] + d.world.documents[:n]
        lanes.append([get_request(d.port, f"/api/v1/documents/{i}/content", headers) for i in ids])
    return get_lanes(d.port, lanes, seconds)


def _feed(d: Deployment, seconds: float) -> list[Samples]:
    """The receivers' feed: its first page of 20 events, again and again."""
    assert d.world is not None
    headers = {"Authorization": f"Bearer {d.world.receiver_token}"}
    request = get_request(d.port, "/api/v1/receiver/events?after=0&limit=20", headers)
    return get_lanes(d.port, [[request]] * POST_LANES, seconds)


def _logins(d: Deployment, seconds: float) -> list[Samples]:
    assert d.world is not None
    clients = [httpx.Client(base_url=d.base, timeout=120) for _ in d.world.users]

    def operation(lane: int) -> Callable[[int], str | None]:
        def one(_: int) -> str | None:
            answer = login(clients[lane], d.world.users[lane])  # type: ignore[union-attr]
            return None if logged_in(answer) else f"{answer.status_code}"

        return one

    try:
        return thread_lanes([operation(n) for n in range(len(clients))], seconds)
    finally:
        for client in clients:
            client.close()


#: A small statement (the ingestion mix: what a sender posts most).
_BODIES: Final = 16


def _ingestion(d: Deployment, seconds: float) -> list[Samples]:
    assert d.world is not None
    token = d.world.sender_token
    bodies = [body_of(10_000 + n, 30_000) for n in range(_BODIES)]
    clients = [httpx.Client(base_url=d.base, timeout=120) for _ in range(POST_LANES)]
    run = time.time_ns()

    def operation(lane: int) -> Callable[[int], str | None]:
        def one(n: int) -> str | None:
            key = f"load-{run}-{lane}-{n}"
            answer = publish(clients[lane], token, bodies[n % _BODIES], key)
            return None if published(answer) else f"{answer.status_code}"

        return one

    try:
        return thread_lanes([operation(n) for n in range(POST_LANES)], seconds)
    finally:
        for client in clients:
            client.close()


#: name, mix, its baseline (in the report).
MIXES: Final[tuple[tuple[str, Mix, str], ...]] = (
    ("/healthz (bare endpoint)", _health, ""),
    ("home page (20 newest)", _pages(lambda n: "/home"), "/healthz"),
    ("search page", _pages(lambda n: f"/documents?label=Statement+{n}"), "/healthz"),
    ("download (100 KB-2 MB PDF)", _downloads, "/healthz"),
    ("receivers' feed (20 events)", _feed, "/healthz"),
    ("code login (90-day rule met)", _logins, "bare argon2id"),
    ("ingestion (sender API, 30 KB)", _ingestion, ""),
)


@contextmanager
def _database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="securebox-load-db-") as folder:
            yield f"sqlite:///{folder}/load.db"
        return
    from tests.stores.conftest import _admin_url, scratch_postgres  # noqa: PLC0415

    with scratch_postgres(_admin_url()) as url:
        yield url


def _run_mixes(d: Deployment, seconds: float, label: str) -> tuple[list[MixResult], int, int]:
    results, logins, publications = [], 0, 0
    for name, mix, baseline in MIXES:
        server_pids = d.server_pids()
        before = cpu_seconds(server_pids), cpu_seconds(d.database_pids()), time.process_time()
        t0 = time.perf_counter()
        samples = mix(d, seconds)
        wall = time.perf_counter() - t0
        after = cpu_seconds(server_pids), cpu_seconds(d.database_pids()), time.process_time()
        stats = Stats.of(samples, t0 + WARM_UP * seconds, t0 + seconds)
        succeeded = sum(sum(s.ok) for s in samples)
        used = _used(before[0], after[0]) + _used(before[1], after[1])
        if mix is _logins:
            logins += succeeded
        if mix is _ingestion:
            publications += succeeded
        results.append(
            MixResult(
                label,
                name,
                stats,
                _used(before[0], after[0]) / wall,
                _used(before[1], after[1]) / wall,
                (after[2] - before[2]) / wall,
                succeeded,
                succeeded / used if used > 0 else math.nan,
                baseline,
            )
        )
    return results, logins, publications


def load_run(
    kinds: list[str], seconds: float, workers: int, home: Path, documents: int = 24
) -> Run:
    """Every mix on every database in ``kinds`` for ``seconds`` each; the checks after."""
    mixes: list[MixResult] = []
    checks: list[Check] = []
    bare = (0.0, 0.0)
    for kind in kinds:
        label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
        folder = home / kind
        folder.mkdir(parents=True, exist_ok=True)
        with (
            _database(kind) as url,
            deployment(
                url,
                folder,
                workers=workers,
                users=POST_LANES,
                lanes=GET_LANES,
                documents=documents,
            ) as d,
        ):
            assert d.world is not None
            done, logins, publications = _run_mixes(d, seconds, label)
            if not bare[0]:  # the same cores, the server idle between two mixes
                bare = bare_argon2(workers, seconds, d.processes.environment())
            mixes += done
            # stop the server first: nothing in flight when counting
            d.processes.close()
            checks += [
                Check(
                    label,
                    "sessions == successful logins",
                    str(d.world.seeded_logins + logins),
                    str(sessions_count(d)),
                ),
                Check(
                    label,
                    "documents == acknowledged publications",
                    str(d.world.seeded_documents + publications),
                    str(documents_count(d)),
                ),
                Check(label, "securebox audit verify", "exit 0", _audit(d)),
            ]
    return Run(seconds, workers, *bare, mixes, checks)


def _audit(d: Deployment) -> str:
    try:
        d.audit_verify()
    except RuntimeError as exc:
        return str(exc)[:200]
    return "exit 0"
