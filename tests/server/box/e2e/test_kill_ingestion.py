"""Kill -9 of a server worker during ingestion (issue 15's second acceptance test, a).

A real ``securebox serve --workers 3`` on PostgreSQL (and one worker on SQLite). In each
iteration, :data:`CLIENTS` senders post at once, each its own PDF under its own
``Idempotency-Key``, on new connections (so the kernel spreads them over the workers); while
requests are in flight one worker gets SIGKILL (uvicorn starts another). A client whose
connection broke, or that got a 5xx, posts again with the same key until it gets ``201``;
:data:`GIVING_UP` more clients give up instead (their documents are never acknowledged).

Then every acknowledged document exists exactly once with its body digest-correct and its
notifications in the outbox (one row per entitled user and the company's address), a key
retried after the kill names the same document (never a second one), a request given up on
left a whole document or nothing, and the tables hold nothing half-published
(:func:`.integrity.check_integrity`: no orphan body or row).
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from subprocess import Popen
from typing import Final

import httpx
import pytest
import sqlalchemy as sa

from securebox_server.box.model import Status
from securebox_server.db.schema import BOX_DOCUMENTS, BOX_NOTIFICATIONS
from tests.server.box.conftest import ACCOUNTANT, ADMIN, CLIENT, PRINCIPAL
from tests.server.box.e2e.conftest import LOOPS_ENV, LiveParts, fault_loops
from tests.server.box.e2e.integrity import check_integrity
from tests.server.box.e2e.processes import Processes, wait_for
from tests.server.box.e2e.world import SENDER, pdf, publish, sender_token

pytestmark = [
    pytest.mark.slow,
    # ~15-20 s for one iteration (a server start): not in the default run
    pytest.mark.skipif(
        LOOPS_ENV not in os.environ,
        reason=f"kill -9 loops of the server: set {LOOPS_ENV}=N or run nox -s box_faults",
    ),
]
CLIENTS = 10
#: Clients that give up when their request breaks (their documents are never acknowledged).
GIVING_UP = 3


@dataclass
class Posting:
    """The clients of one iteration, as they see it."""

    in_flight: int = 0
    broken: int = 0
    acknowledged: dict[str, str] = field(default_factory=dict)
    replayed: set[str] = field(default_factory=set)
    #: Keys whose one request broke and whose client gave up (never acknowledged).
    abandoned: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post(
    base: str, token: str, key: str, body: bytes, issued: object, state: Posting, retry: bool
) -> None:
    """Post until acknowledged (``retry``), or once and give up if it broke."""
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection each time
    with httpx.Client(base_url=base, timeout=60, limits=limits) as http:
        for _ in range(200):
            with state.lock:
                state.in_flight += 1
            try:
                answer = publish(http, token, body, key=key, issued_at=issued)  # type: ignore[arg-type]
            except httpx.TransportError:
                answer = None
            finally:
                with state.lock:
                    state.in_flight -= 1
            if answer is not None and answer.status_code == 201:
                (result,) = answer.json()["results"]
                with state.lock:
                    state.acknowledged[key] = result["document_id"]
                    if answer.headers.get("Idempotent-Replayed") == "true":
                        state.replayed.add(key)
                return
            assert answer is None or answer.status_code >= 500, answer.text
            with state.lock:
                state.broken += 1
                if not retry:
                    state.abandoned.add(key)
                    return
            time.sleep(0.2)
    raise AssertionError(f"{key} was never acknowledged")


#: The outbox rows of a statement for C1: the users entitled at publication (the principal
#: user, the administrator, the accepted third party; not the collaborator, without the
#: theme, nor the pending third party) and the company's notification address.
ANNOUNCED: Final = frozenset(
    {
        (PRINCIPAL.client_id.value, PRINCIPAL.user_number.value),
        (ADMIN.client_id.value, ADMIN.user_number.value),
        (ACCOUNTANT.client_id.value, ACCOUNTANT.user_number.value),
        (CLIENT.value, None),
    }
)


def _told(engine: sa.Engine) -> dict[str, frozenset[tuple[str, str | None]]]:
    """Each document's ``new_document`` outbox rows, as (subscription, user) pairs."""
    n = BOX_NOTIFICATIONS
    query = sa.select(n.c.document_id, n.c.client_id, n.c.user_number).where(
        n.c.kind == "new_document"
    )
    found: dict[str, set[tuple[str, str | None]]] = {}
    with engine.connect() as conn:
        for document_id, client_id, user in conn.execute(query):
            found.setdefault(str(document_id), set()).add((str(client_id), user))
    return {d: frozenset(pairs) for d, pairs in found.items()}


def _kill_in_flight(server: Popen[bytes], workers: int, state: Posting, rng: random.Random) -> int:
    """SIGKILL one of the server's workers (with one worker: uvicorn itself) once a few
    requests are in flight."""
    deadline = time.monotonic() + 30
    while state.in_flight < min(3, CLIENTS) and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.05))
    if workers == 1:
        victim = Processes.uvicorn(server)
    else:
        victim = rng.choice(Processes.server_workers(server))
    Processes.kill9(victim)
    return victim


def _loop(parts: LiveParts, workers: int, loops: int) -> None:
    processes = parts.processes
    server = processes.serve(parts.port, workers)
    base = f"http://127.0.0.1:{parts.port}"
    rng = random.Random(20261204)
    with httpx.Client(base_url=base, timeout=30) as http:
        token = sender_token(http, parts.actors.sender, parts.clock, parts.settings.origin)
    issued = parts.clock.now() - timedelta(days=1)
    acknowledged: dict[str, str] = {}
    bodies: dict[str, bytes] = {}
    broken = replayed = 0
    abandoned: set[str] = set()
    for iteration in range(loops):
        state = Posting()
        keys = [f"fault-{iteration}-{n}" for n in range(CLIENTS + GIVING_UP)]
        for n, key in enumerate(keys):
            bodies[key] = pdf(10_000 + iteration * (CLIENTS + GIVING_UP) + n)
        threads = [
            threading.Thread(
                target=_post,
                args=(base, token, key, bodies[key], issued, state, n < CLIENTS),
            )
            for n, key in enumerate(keys)
        ]
        for thread in threads:
            thread.start()
        victim = _kill_in_flight(server, workers, state, rng)
        if workers == 1:  # the server is gone: start it again, as its supervisor would
            assert server.wait(timeout=30) != 0
            server = processes.serve(parts.port, workers)
        for thread in threads:
            thread.join(timeout=120)
        assert set(state.acknowledged) | state.abandoned == set(keys)
        assert set(keys[:CLIENTS]) <= set(state.acknowledged)
        acknowledged.update(state.acknowledged)
        abandoned |= state.abandoned
        broken, replayed = broken + state.broken, replayed + len(state.replayed)
        if workers > 1:

            def replaced(victim: int = victim, server: Popen[bytes] = server) -> bool:
                live = Processes.server_workers(server)
                return victim not in live and len(live) == workers

            wait_for(replaced, 60, "uvicorn to replace the killed worker")
    print(
        f"{loops} kills: {broken} requests broken, {replayed} replayed after a retry, "
        f"{len(abandoned)} given up"
    )

    # every acknowledged document exactly once, its body digest-correct
    assert len(set(acknowledged.values())) == len(acknowledged)
    documents = parts.documents
    for key, document_id in acknowledged.items():
        doc = documents.get(document_id)
        assert doc is not None
        assert doc.status is Status.LIVE
        assert doc.digest == hashlib.sha256(bodies[key]).hexdigest()
        assert documents.body(doc) == bodies[key]
    with documents.engine.connect() as conn:
        rows = conn.execute(
            sa.select(BOX_DOCUMENTS.c.digest).where(BOX_DOCUMENTS.c.sender == SENDER)
        ).scalars()
        per_body = list(rows)
    digest = {key: hashlib.sha256(body).hexdigest() for key, body in bodies.items()}
    assert len(per_body) == len(set(per_body))  # no body published twice: no duplicate
    assert {digest[k] for k in acknowledged} <= set(per_body)
    # a request given up on left a whole document (its commit was done) or nothing
    assert set(per_body) <= {digest[k] for k in (*acknowledged, *abandoned)}
    assert check_integrity(documents.engine) == len(per_body)
    # acknowledged: its notifications were durable too (the entitled users, the company)
    told = _told(documents.engine)
    for document_id in acknowledged.values():
        assert told.get(document_id) == ANNOUNCED, document_id
    processes.stop_server(server)


def test_kill_9_a_server_worker_during_ingestion_postgresql(live_parts: LiveParts) -> None:
    _loop(live_parts, workers=3, loops=fault_loops())


def test_kill_9_the_server_worker_during_ingestion_sqlite(sqlite_parts: LiveParts) -> None:
    _loop(sqlite_parts, workers=1, loops=fault_loops())
