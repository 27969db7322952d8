"""Kill -9 of a server worker while batches are published (ADR 0060; the pattern of
``test_kill_ingestion.py``).

A real ``securebox serve --workers 3`` on PostgreSQL (one worker on SQLite). In each
iteration :data:`CLIENTS` senders post a batch of :data:`ITEMS` PDFs at once (each item its
own key), on new connections; while they are in flight one worker gets SIGKILL. A client
whose connection broke, or that got a 5xx, posts the same batch again until it gets
``201``; :data:`GIVING_UP` more clients give up instead.

Then every acknowledged item exists exactly once with its body digest-correct, a batch
retried after the kill names the same documents (never a second set), a batch given up on
left **all** its items or **none** (one commit), and nothing half-published remains
(:func:`.integrity.check_integrity`).
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from subprocess import Popen

import httpx
import pytest
import sqlalchemy as sa

from securebox_server.box.model import Status
from securebox_server.db.schema import BOX_DOCUMENTS
from tests.server.box.conftest import C1, C2
from tests.server.box.e2e.conftest import LOOPS_ENV, LiveParts, fault_loops
from tests.server.box.e2e.integrity import check_integrity
from tests.server.box.e2e.processes import Processes, wait_for
from tests.server.box.e2e.world import SENDER, pdf, publish_batch, sender_token

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        LOOPS_ENV not in os.environ,
        reason=f"kill -9 loops of the server: set {LOOPS_ENV}=N or run nox -s box_faults",
    ),
]
CLIENTS = 6
GIVING_UP = 3
ITEMS = 20

Batch = list[tuple[str, bytes, object]]


@dataclass
class Posting:
    in_flight: int = 0
    broken: int = 0
    #: Item key -> document id, of the batches acknowledged.
    acknowledged: dict[str, str] = field(default_factory=dict)
    replayed: int = 0
    #: The batches whose one request broke and whose client gave up: their item keys.
    abandoned: list[list[str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post(
    base: str, token: str, batch: Batch, issued: datetime, state: Posting, retry: bool
) -> None:
    limits = httpx.Limits(max_keepalive_connections=0)
    keys = [key for key, _, _ in batch]
    with httpx.Client(base_url=base, timeout=60, limits=limits) as http:
        for _ in range(200):
            with state.lock:
                state.in_flight += 1
            try:
                answer = publish_batch(http, token, batch, issued_at=issued)  # type: ignore[arg-type]
            except httpx.TransportError:
                answer = None
            finally:
                with state.lock:
                    state.in_flight -= 1
            if answer is not None and answer.status_code == 201:
                items = answer.json()["items"]
                assert [i["idempotency_key"] for i in items] == keys
                with state.lock:
                    for item in items:
                        (result,) = item["results"]
                        state.acknowledged[item["idempotency_key"]] = result["document_id"]
                    state.replayed += sum(i["replayed"] for i in items)
                return
            assert answer is None or answer.status_code >= 500, answer.text
            with state.lock:
                state.broken += 1
                if not retry:
                    state.abandoned.append(keys)
                    return
            time.sleep(0.2)
    raise AssertionError(f"the batch of {keys[0]} was never acknowledged")


def _kill_in_flight(server: Popen[bytes], workers: int, state: Posting, rng: random.Random) -> int:
    deadline = time.monotonic() + 30
    while state.in_flight < 3 and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.1))
    victim = (
        Processes.uvicorn(server) if workers == 1 else rng.choice(Processes.server_workers(server))
    )
    Processes.kill9(victim)
    return victim


def _loop(parts: LiveParts, workers: int, loops: int) -> None:
    processes = parts.processes
    server = processes.serve(parts.port, workers)
    base = f"http://127.0.0.1:{parts.port}"
    rng = random.Random(20261206)
    with httpx.Client(base_url=base, timeout=30) as http:
        token = sender_token(http, parts.actors.sender, parts.clock, parts.settings.origin)
    issued = parts.clock.now() - timedelta(days=1)
    acknowledged: dict[str, str] = {}
    bodies: dict[str, bytes] = {}
    abandoned: list[list[str]] = []
    broken = 0
    for iteration in range(loops):
        state = Posting()
        batches: list[Batch] = []
        for b in range(CLIENTS + GIVING_UP):
            batch: Batch = []
            for i in range(ITEMS):
                key = f"kb-{iteration}-{b}-{i}"
                bodies[key] = pdf(50_000 + (iteration * 100 + b) * ITEMS + i)
                batch.append((key, bodies[key], C1 if i % 2 else C2))
            batches.append(batch)
        threads = [
            threading.Thread(target=_post, args=(base, token, batch, issued, state, n < CLIENTS))
            for n, batch in enumerate(batches)
        ]
        for thread in threads:
            thread.start()
        victim = _kill_in_flight(server, workers, state, rng)
        if workers == 1:
            assert server.wait(timeout=30) != 0
            server = processes.serve(parts.port, workers)
        for thread in threads:
            thread.join(timeout=180)
        acknowledged.update(state.acknowledged)
        abandoned += state.abandoned
        broken += state.broken
        if workers > 1:

            def replaced(victim: int = victim, server: Popen[bytes] = server) -> bool:
                live = Processes.server_workers(server)
                return victim not in live and len(live) == workers

            wait_for(replaced, 60, "uvicorn to replace the killed worker")
    print(f"{loops} kills: {broken} batches broken, {len(abandoned)} given up")

    assert len(set(acknowledged.values())) == len(acknowledged)
    documents = parts.documents
    for key, document_id in acknowledged.items():
        doc = documents.get(document_id)
        assert doc is not None
        assert doc.status is Status.LIVE
        assert documents.body(doc) == bodies[key]
    with documents.engine.connect() as conn:
        per_body = list(
            conn.execute(
                sa.select(BOX_DOCUMENTS.c.digest).where(BOX_DOCUMENTS.c.sender == SENDER)
            ).scalars()
        )
    digest = {key: hashlib.sha256(body).hexdigest() for key, body in bodies.items()}
    assert len(per_body) == len(set(per_body))  # no item published twice
    stored = set(per_body)
    assert {digest[k] for k in acknowledged} <= stored
    given_up = [k for keys in abandoned for k in keys]
    assert stored <= {digest[k] for k in (*acknowledged, *given_up)}
    for keys in abandoned:  # one commit: all the batch's items, or none
        found = {digest[k] in stored for k in keys}
        assert len(found) == 1, f"a batch given up on is half there: {keys[0]}"
    assert check_integrity(documents.engine) == len(per_body)
    processes.stop_server(server)


def test_kill_9_a_server_worker_during_batches_postgresql(live_parts: LiveParts) -> None:
    _loop(live_parts, workers=3, loops=fault_loops())


def test_kill_9_the_server_worker_during_batches_sqlite(sqlite_parts: LiveParts) -> None:
    _loop(sqlite_parts, workers=1, loops=fault_loops())
