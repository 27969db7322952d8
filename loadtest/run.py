"""A load run: for each database, a deployment (:mod:`.deployment`), then the mixes one
after the other (all of them, or those ``--mix`` names), each for its share of the time,
closed model or open (``--rate``), with the CPU of the server's processes and of the
database's backends read from ``/proc`` around it and the resident memory of the server's
processes sampled during it; then the exactness checks (sessions, documents,
notifications, step-up executions and their single use, audit chains); the bare argon2id
rate once, on as many processes as the server has workers.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import httpx
from tests.server.box.conftest import C1
from tests.server.box.e2e.processes import free_port

from loadtest.bare import bare_argon2
from loadtest.client import (
    LaneDone,
    Samples,
    Stats,
    get_lanes,
    get_open,
    get_request,
    thread_lanes,
    thread_open,
)
from loadtest.deployment import (
    CODE,
    Deployment,
    audit_count,
    deployment,
    deployment_cookie,
    documents_count,
    logged_in,
    login,
    notifications_count,
    publish,
    published,
    sessions_count,
    sizes,
    totp_code,
)
from loadtest.ingest import BATCH, SPREAD, batch_mix, seed_spread, spread_mix
from loadtest.million import body_of, database, split
from loadtest.static import static_server

__all__ = ["MIXES", "Check", "MixResult", "MixSpec", "Run", "load_run", "mix_keys", "rates"]

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


def rss_bytes(pids: Sequence[int]) -> int:
    """The resident memory of the pids still alive (``VmRSS``), summed."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (``/proc``)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


@contextlib.contextmanager
def rss_peak(pids: Sequence[int], every: float = 0.05) -> Iterator[list[int]]:
    """Samples the summed RSS of ``pids`` every ``every`` seconds while the block runs:
    ``[before, peak]`` in bytes (filled when the block ends)."""
    watched = list(pids)
    result = [rss_bytes(watched), 0]
    stop = threading.Event()
    peak = [result[0]]

    def sample() -> None:
        while not stop.wait(every):
            peak[0] = max(peak[0], rss_bytes(watched))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join(5)
        result[1] = max(peak[0], rss_bytes(watched))


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
    #: The mix's key (``--mix``), the arrival rate (open model; ``None``: closed).
    key: str = ""
    rate: float | None = None
    #: Resident memory of the serving processes before the mix and its peak (bytes).
    rss_before: int = 0
    rss_peak: int = 0
    #: Something the reader must know (the fresh users ran out, ...).
    note: str = ""
    #: Documents an operation publishes (a batch's size; 1 otherwise).
    per_op: int = 1


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
    #: The documents behind the pages (published + bulk), and how long getting the
    #: database took per database (seconds; building the cache included).
    documents: int = 0
    databases_s: dict[str, float] = field(default_factory=dict)


# -- the mixes ------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the mixes of one deployment acknowledged (for the checks after the run)."""

    logins: int = 0
    publications: int = 0
    #: Payee additions answered 201 after their step-up, and their replays answered 401.
    executed: int = 0
    replays_refused: int = 0
    #: Step-ups proven (each rotated its session: one ended, one opened).
    rotations: int = 0
    notes: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


#: A mix: the deployment, its seconds, its arrival rate (``None``: closed model), the tally.
Mix = Callable[[Deployment, float, float | None, Tally], list[Samples]]


def _gets(
    d: Deployment, lanes: list[list[bytes]], seconds: float, rate: float | None
) -> list[Samples]:
    if rate is None:
        return get_lanes(d.port, lanes, seconds)
    return get_open(d.port, lanes, seconds, rate)


def _threads(
    operations: list[Callable[[int], str | None]], seconds: float, rate: float | None
) -> list[Samples]:
    if rate is None:
        return thread_lanes(operations, seconds)
    return thread_open(operations, seconds, rate)


def _pages(path: Callable[[int], str]) -> Mix:
    def mix(d: Deployment, seconds: float, rate: float | None, _: Tally) -> list[Samples]:
        assert d.world is not None
        cookie = deployment_cookie()
        lanes = [
            [get_request(d.port, path(n), {"Cookie": f"{cookie}={session}"})]
            for n, session in enumerate(d.world.sessions)
        ]
        return _gets(d, lanes, seconds, rate)

    return mix


def _health(d: Deployment, seconds: float, rate: float | None, _: Tally) -> list[Samples]:
    return _gets(d, [[get_request(d.port, "/healthz", {})]] * GET_LANES, seconds, rate)


def _downloads(d: Deployment, seconds: float, rate: float | None, _: Tally) -> list[Samples]:
    assert d.world is not None
    lanes = []
    for n in range(POST_LANES):
        session = d.world.sessions[n % len(d.world.sessions)]
        headers = {"Authorization": f"Bearer {session}"}
        ids = d.world.documents[n:] + d.world.documents[:n]
        lanes.append([get_request(d.port, f"/api/v1/documents/{i}/content", headers) for i in ids])
    return _gets(d, lanes, seconds, rate)


def _static(d: Deployment, seconds: float, rate: float | None, _: Tally) -> list[Samples]:
    """The same PDFs, in the same order, from the static endpoint (:mod:`.static`)."""
    assert d.world is not None
    assert d.static_port, "the static server is not running"
    count = len(d.world.documents)
    lanes = []
    for n in range(POST_LANES):
        order = [*range(n, count), *range(n)]
        lanes.append([get_request(d.static_port, f"/files/{i}.pdf", {}) for i in order])
    if rate is None:
        return get_lanes(d.static_port, lanes, seconds)
    return get_open(d.static_port, lanes, seconds, rate)


def _feed(d: Deployment, seconds: float, rate: float | None, _: Tally) -> list[Samples]:
    """The receivers' feed: its first page of 20 events, again and again."""
    assert d.world is not None
    headers = {"Authorization": f"Bearer {d.world.receiver_token}"}
    request = get_request(d.port, "/api/v1/receiver/events?after=0&limit=20", headers)
    return _gets(d, [[request]] * POST_LANES, seconds, rate)


@contextlib.contextmanager
def _clients(d: Deployment, n: int) -> Iterator[list[httpx.Client]]:
    clients = [httpx.Client(base_url=d.base, timeout=120) for _ in range(n)]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


def _logins(d: Deployment, seconds: float, rate: float | None, tally: Tally) -> list[Samples]:
    assert d.world is not None
    users = d.world.users

    def operation(http: httpx.Client, lane: int) -> Callable[[int], str | None]:
        def one(_: int) -> str | None:
            answer = login(http, users[lane])
            return None if logged_in(answer) else f"{answer.status_code}"

        return one

    with _clients(d, len(users)) as clients:
        samples = _threads([operation(c, n) for n, c in enumerate(clients)], seconds, rate)
    tally.logins += sum(sum(s.ok) for s in samples)
    return samples


def _second_factor(
    d: Deployment, seconds: float, rate: float | None, tally: Tally
) -> list[Samples]:
    """A full login: identification, the code, then (the 90-day rule due) the TOTP code the
    client computes from the user's seed; each user once (:class:`SecondFactorUser`)."""
    assert d.world is not None
    fresh = iter(d.world.second_factor)
    take = threading.Lock()

    def operation(http: httpx.Client) -> Callable[[int], str | None]:
        def one(_: int) -> str | None:
            with take:
                user = next(fresh, None)
            if user is None:
                tally.notes["login2fa"] = "the fresh users ran out before the end"
                raise LaneDone
            who = user.principal
            started = http.post(
                "/api/v1/login/flows",
                json={"client_id": who.client_id.value, "user_number": who.user_number.value},
            )
            if started.status_code != 201:
                return f"start {started.status_code}"
            answers = f"/api/v1/login/flows/{started.json()['id']}/answers"
            coded = http.post(answers, json={"method": "confidential_code", "code": CODE})
            if coded.status_code != 200 or coded.json().get("state") != "second_factor":
                return f"code {coded.status_code} {coded.json().get('state')}"
            proof = totp_code(user, datetime.now(UTC))
            done = http.post(answers, json={"method": "totp", "code": proof})
            return None if logged_in(done) else f"totp {done.status_code}"

        return one

    with _clients(d, POST_LANES) as clients:
        samples = _threads([operation(c) for c in clients], seconds, rate)
    tally.logins += sum(sum(s.ok) for s in samples)
    return samples


#: Payees the step-up adds in turn (valid IBANs).
PAYEES: Final = ("BE71096123456769", "FR7630006000011234567890189", "DE89370400440532013000")


def _step_up(d: Deployment, seconds: float, rate: float | None, tally: Tally) -> list[Samples]:
    """The payee addition of a logged-in user: ``POST /api/v1/payees`` answers 401 with
    the step-up bound to this payee (PSD2 RTS art. 5, dynamic linking); the passkey proves
    it (the client's authenticator signs the challenge); the same request with the rotated
    token then answers 201; sent once more it answers 401 (the grant was used)."""
    assert d.world is not None
    payers = d.world.payers

    def operation(http: httpx.Client, lane: int) -> Callable[[int], str | None]:
        payer = payers[lane]

        def one(n: int) -> str | None:
            body = {"payee": PAYEES[n % len(PAYEES)]}
            auth = {"Authorization": f"Bearer {payer.token}"}
            asked = http.post("/api/v1/payees", json=body, headers=auth)
            if asked.status_code != 401:
                return f"ask {asked.status_code}"
            step_up = asked.json()["step_up"]
            options = http.post(
                f"{step_up}/challenges", json={"method": "passkey_uv"}, headers=auth
            )
            if options.status_code != 201:
                return f"challenge {options.status_code}"
            ceremony = options.json()
            signed = payer.authenticator.get(ceremony["options"])
            proof = {"method": "passkey_uv", "ceremony_id": ceremony["challenge_id"]}
            proven = http.post(
                f"{step_up}/answers", json={**proof, "response": signed}, headers=auth
            )
            if proven.status_code != 200:
                return f"answer {proven.status_code}"
            payer.token = proven.json()["session"]["token"]
            with tally.lock:
                tally.rotations += 1
            auth = {"Authorization": f"Bearer {payer.token}"}
            done = http.post("/api/v1/payees", json=body, headers=auth)
            if done.status_code != 201:
                return f"execute {done.status_code}"
            with tally.lock:
                tally.executed += 1
            again = http.post("/api/v1/payees", json=body, headers=auth)
            if again.status_code != 401:
                return f"replay {again.status_code}"
            with tally.lock:
                tally.replays_refused += 1
            return None

        return one

    with _clients(d, len(payers)) as clients:
        return _threads([operation(c, n) for n, c in enumerate(clients)], seconds, rate)


#: A small statement (the ingestion mix: what a sender posts most).
_BODIES: Final = 16


def _ingestion(d: Deployment, seconds: float, rate: float | None, tally: Tally) -> list[Samples]:
    assert d.world is not None
    token = d.world.sender_token
    bodies = [body_of(10_000 + n, 30_000) for n in range(_BODIES)]
    run = time.time_ns()
    keys = itertools.count()

    def operation(http: httpx.Client, lane: int) -> Callable[[int], str | None]:
        def one(n: int) -> str | None:
            key = f"load-{run}-{lane}-{next(keys)}"
            answer = publish(http, token, bodies[n % _BODIES], key)
            return None if published(answer) else f"{answer.status_code}"

        return one

    with _clients(d, POST_LANES) as clients:
        samples = _threads([operation(c, n) for n, c in enumerate(clients)], seconds, rate)
    tally.publications += sum(sum(s.ok) for s in samples)
    return samples


def _spread(d: Deployment, seconds: float, rate: float | None, tally: Tally) -> list[Samples]:
    """One publication a request, over the spread's subscriptions in turn."""
    assert d.world is not None
    assert d.world.spread, "no spread subscriptions seeded"
    w = d.world
    return spread_mix(d.base, w.sender_token, w.spread, POST_LANES, seconds, rate, tally)


def _batches(d: Deployment, seconds: float, rate: float | None, tally: Tally) -> list[Samples]:
    """Batches of ``batch`` documents, all to company C1 (one subscription's burst)."""
    assert d.world is not None
    w = d.world
    return batch_mix(d.base, w.sender_token, [C1], w.batch, POST_LANES, seconds, rate, tally)


def _batches_spread(
    d: Deployment, seconds: float, rate: float | None, tally: Tally
) -> list[Samples]:
    """Batches whose items go to the spread's subscriptions in turn."""
    assert d.world is not None
    assert d.world.spread, "no spread subscriptions seeded"
    w = d.world
    return batch_mix(d.base, w.sender_token, w.spread, w.batch, POST_LANES, seconds, rate, tally)


@dataclass(frozen=True, slots=True)
class MixSpec:
    """A mix: its ``--mix`` key, its name in the report, what it runs, its baseline."""

    key: str
    name: str
    run: Mix
    baseline: str = ""
    #: Documents an operation publishes (``batch``: the run's batch size).
    batched: bool = False


MIXES: Final[tuple[MixSpec, ...]] = (
    MixSpec("healthz", "/healthz (bare endpoint)", _health),
    MixSpec("home", "home page (20 newest)", _pages(lambda n: "/home"), "/healthz"),
    MixSpec(
        "search",
        "search page",
        _pages(lambda n: f"/documents?label=Statement+{n}"),
        "/healthz",
    ),
    MixSpec("static", "static file (the same PDFs)", _static),
    MixSpec("download", "download (100 KB-2 MB PDF)", _downloads, "static file"),
    MixSpec("feed", "receivers' feed (20 events)", _feed, "/healthz"),
    MixSpec("login", "code login (90-day rule met)", _logins, "bare argon2id"),
    MixSpec("login2fa", "full login (code + TOTP)", _second_factor, "bare argon2id"),
    MixSpec("stepup", "payee step-up (passkey)", _step_up),
    MixSpec("ingestion", "ingestion (sender API, 30 KB)", _ingestion),
    MixSpec("ingestion_spread", "ingestion spread over subscriptions", _spread),
    MixSpec("ingestion_batch", "ingestion in batches, one subscription", _batches, batched=True),
    MixSpec(
        "ingestion_batch_spread",
        "ingestion in batches, spread",
        _batches_spread,
        batched=True,
    ),
)
#: The mixes that need the spread's subscriptions seeded.
SPREAD_MIXES: Final = frozenset({"ingestion_spread", "ingestion_batch_spread"})


def mix_keys(names: str | None) -> list[str]:
    """``--mix``: comma-separated keys (every mix when empty), in the run's order."""
    known = [m.key for m in MIXES]
    if not names:
        return known
    asked = {k.strip() for k in names.split(",") if k.strip()}
    unknown = sorted(asked - set(known))
    if unknown or not asked:
        raise ValueError(f"unknown mix {', '.join(unknown) or '(none)'}; known: {', '.join(known)}")
    return [k for k in known if k in asked]


def rates(text: str | None, keys: Sequence[str]) -> dict[str, float]:
    """``--rate``: one arrival rate a second for every mix (``50``), or per mix
    (``home=500,login=10``); the mixes not named keep the closed model."""
    if not text:
        return {}
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, _, value = part.rpartition("=")
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"--rate: {part!r} is not a rate") from None
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"--rate: {part!r} is not a positive rate")
        if key and key not in keys:
            raise ValueError(f"--rate: {key!r} is not a mix of this run")
        for k in [key] if key else keys:
            out[k] = rate
    return out


def _second_factor_users(seconds: float, rate: float | None) -> int:
    """Fresh users enough for the full-login mix: its rate (or 25 a second, above the 23
    code logins a second two quiet cores verified) over the mix, and a margin."""
    return math.ceil((rate or 25.0) * seconds) + 8


def _run_mixes(
    d: Deployment, seconds: float, label: str, specs: Sequence[MixSpec], rate: dict[str, float]
) -> tuple[list[MixResult], Tally]:
    results, tally = [], Tally()
    for spec in specs:
        server_pids = d.server_pids()
        static = spec.key == "static" and d.static is not None
        serving = process_tree(d.static.pid) if d.static is not None and static else server_pids
        # the static mix: the static server's processes in the server's columns
        before = cpu_seconds(serving), cpu_seconds(d.database_pids()), time.process_time()
        t0 = time.perf_counter()
        with rss_peak(serving) as rss:
            samples = spec.run(d, seconds, rate.get(spec.key), tally)
        wall = time.perf_counter() - t0
        after = cpu_seconds(serving), cpu_seconds(d.database_pids()), time.process_time()
        stats = Stats.of(samples, t0 + WARM_UP * seconds, t0 + seconds)
        succeeded = sum(sum(s.ok) for s in samples)
        used = _used(before[0], after[0]) + _used(before[1], after[1])
        results.append(
            MixResult(
                label,
                spec.name,
                stats,
                _used(before[0], after[0]) / wall,
                _used(before[1], after[1]) / wall,
                (after[2] - before[2]) / wall,
                succeeded,
                succeeded / used if used > 0 else math.nan,
                spec.baseline,
                spec.key,
                rate.get(spec.key),
                rss[0],
                rss[1],
                tally.notes.get(spec.key, ""),
                d.world.batch if spec.batched and d.world is not None else 1,
            )
        )
    return results, tally


def _checks(d: Deployment, label: str, tally: Tally, specs: Sequence[MixSpec]) -> list[Check]:
    assert d.world is not None
    w = d.world
    acknowledged = w.seeded_documents + tally.publications
    checks = [
        Check(
            label,
            "live sessions == successful logins",
            str(w.seeded_logins + tally.logins),
            str(sessions_count(d, live=True)),
        ),
        Check(
            label,
            "sessions == successful logins + step-up rotations",
            str(w.seeded_logins + tally.logins + tally.rotations),
            str(sessions_count(d)),
        ),
        Check(
            label,
            "documents == acknowledged publications + bulk rows",
            str(acknowledged + w.bulk_documents),
            str(documents_count(d)),
        ),
        Check(
            label,
            f"notifications == published documents x {w.notified_per_document} entitled user(s)",
            str(acknowledged * w.notified_per_document),
            str(notifications_count(d)),
        ),
    ]
    if any(s.key == "stepup" for s in specs):
        checks += [
            Check(
                label,
                "payees added (audit payee.add) == acknowledged step-up executions",
                str(tally.executed),
                str(audit_count(d, "payee.add")),
            ),
            Check(
                label,
                "step-up grants used once: replays refused == executions",
                str(tally.executed),
                str(tally.replays_refused),
            ),
        ]
    return [*checks, Check(label, "securebox audit verify", "exit 0", _audit(d))]


def _write_static(folder: Path, documents: int) -> None:
    """The published PDFs (the same bytes: :func:`body_of` is deterministic) as files."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, size in enumerate(sizes(documents)):
        (folder / f"{n}.pdf").write_bytes(body_of(n, size))


def load_run(
    kinds: list[str],
    seconds: float,
    workers: int,
    home: Path,
    documents: int = 24,
    *,
    mixes: Sequence[str] | None = None,
    rate: dict[str, float] | None = None,
    second_factor_users: int | None = None,
    spread: int = SPREAD,
    batch: int = BATCH,
) -> Run:
    """The mixes ``mixes`` (keys; all by default) on every database in ``kinds`` for
    ``seconds`` each, arrivals at ``rate[key]`` a second for the mixes named there (open
    model), the others closed; the checks after. ``second_factor_users``: the fresh users
    of the full-login mix (by default enough for its time); ``spread``: the subscriptions of
    the spread mixes; ``batch``: the documents of a batch."""
    keys = list(mixes) if mixes is not None else [m.key for m in MIXES]
    specs = [m for m in MIXES if m.key in keys]
    rate = dict(rate or {})
    results: list[MixResult] = []
    checks: list[Check] = []
    bare = (0.0, 0.0)
    took: dict[str, float] = {}
    published, bulk = split(documents)
    fresh = 0
    if "login2fa" in keys:
        fresh = second_factor_users or _second_factor_users(seconds, rate.get("login2fa"))
    for kind in kinds:
        label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
        folder = home / kind
        folder.mkdir(parents=True, exist_ok=True)
        with (
            database(kind, bulk) as (url, took[label]),
            deployment(
                url,
                folder,
                workers=workers,
                users=POST_LANES if "login" in keys else 0,
                lanes=GET_LANES,
                documents=documents,
                second_factor=fresh,
                payers=POST_LANES if "stepup" in keys else 0,
            ) as d,
            contextlib.ExitStack() as stack,
        ):
            assert d.world is not None
            d.world.batch = batch
            if SPREAD_MIXES & set(keys):
                d.world.spread = seed_spread(d.box, spread)
            if "static" in keys:
                _write_static(folder / "static", published)
                d.static_port = free_port()
                d.static = stack.enter_context(
                    static_server(
                        folder / "static", d.static_port, workers, d.processes.environment()
                    )
                )
            done, tally = _run_mixes(d, seconds, label, specs, rate)
            if not bare[0] and {"login", "login2fa"} & set(keys):
                bare = bare_argon2(workers, seconds, d.processes.environment())
            results += done
            # stop the server first: nothing in flight when counting
            stack.close()
            d.processes.close()
            checks += _checks(d, label, tally, specs)
    return Run(seconds, workers, *bare, results, checks, documents, took)


def _audit(d: Deployment) -> str:
    try:
        d.audit_verify()
    except RuntimeError as exc:
        return str(exc)[:200]
    return "exit 0"
