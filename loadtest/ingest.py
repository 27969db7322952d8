"""The ingestion mixes beyond one subscription's one-per-request (issue 19's 200 documents a
second): a sender spreading its publications over many subscriptions (a bank's month-end
statements: one company per subscription), and a sender sending batches (``POST
/api/v1/sender/batches``, ADR 0060).

:func:`seed_spread` adds ``n`` subscriptions straight through the library's store (one
company each, a principal user who sees statements, no code: nobody logs in to them), in
commits of :data:`SEED_CHUNK`; each published document notifies that principal user alone,
as the reader's statements do, so the run's exactness checks hold unchanged.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import httpx
from stdnum import luhn
from tests.server.box.conftest import STATEMENTS
from tests.server.box.e2e.world import STATEMENT, publish_batch
from tests.server.clients.helpers import bearer

from loadtest.client import Samples, thread_lanes, thread_open
from loadtest.million import body_of
from securebox_auth.audit import AuditEvent
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.entitlements.model import Company, Subscription
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.protocols import PutAccount, PutSubscription

__all__ = [
    "BATCH",
    "MAX_BATCH",
    "SEED_CHUNK",
    "SPREAD",
    "Counted",
    "batch_mix",
    "post_batch",
    "seed_spread",
    "siren_of",
    "spread_mix",
]

#: Subscriptions of the spread mix (``--spread``).
SPREAD: Final = 1000
#: Documents in a batch of the batch mix (``--batch``).
BATCH: Final = 50
#: The most documents a batch holds (the server's limit, ADR 0060).
MAX_BATCH: Final = 100
#: Subscriptions written per seeding commit.
SEED_CHUNK: Final = 250
#: The first subscription number and company number of the spread (away from the others).
_FIRST_CLIENT: Final = 700_000_000
_FIRST_COMPANY: Final = 60_000_000
#: Distinct 30 KB statements the mixes cycle through.
_BODIES: Final = 16


def siren_of(n: int) -> Siren:
    """The ``n``-th company of the spread: 8 digits and their Luhn check digit."""
    digits = f"{_FIRST_COMPANY + n:08d}"
    return Siren(digits + luhn.calc_check_digit(digits))


def seed_spread(box: Securebox, count: int) -> list[Siren]:
    """``count`` subscriptions of one company each (see the module documentation); their
    companies, in order."""
    now = box.clock.now()
    companies = [siren_of(n) for n in range(count)]
    for start in range(0, count, SEED_CHUNK):
        changes: list[PutSubscription | PutAccount] = []
        for n in range(start, min(count, start + SEED_CHUNK)):
            client = ClientId(f"{_FIRST_CLIENT + n:09d}")
            siren = companies[n]
            principal = Principal.parse(client.value, "01")
            sub = Subscription(
                client,
                companies={siren: Company(siren, f"Company {n}", now)},
                themes=frozenset({STATEMENTS}),
            )
            changes += [
                PutSubscription(client, 0, sub),
                PutAccount(principal, 0, Account(principal, Role.PRINCIPAL_USER, now)),
            ]
        event = AuditEvent.make(now, "load.seed", actor="load", subject="spread", outcome="ok")
        box.store.commit(changes, [event])
    return companies


class Counted(Protocol):
    """What a mix acknowledges (the run's tally: its ``publications``)."""

    publications: int


def _metadata(companies: Sequence[Siren], label: str) -> dict[str, Any]:
    issued = datetime.now(UTC) - timedelta(minutes=1)
    return {
        "type": STATEMENT.type,
        "label": label,
        "issued_at": issued.isoformat(),
        "companies": [c.value for c in companies],
    }


def _post_one(
    http: httpx.Client, token: str, body: bytes, key: str, company: Siren
) -> httpx.Response:
    files: dict[str, tuple[str | None, bytes | str, str]] = {
        "metadata": (None, json.dumps(_metadata([company], "Statement")), "application/json"),
        "file": ("statement.pdf", body, "application/pdf"),
    }
    headers = {**bearer(token), "Idempotency-Key": key}
    return http.post("/api/v1/sender/documents", files=files, headers=headers, timeout=120)


def post_batch(
    http: httpx.Client, token: str, items: Sequence[tuple[str, bytes, Siren]]
) -> httpx.Response:
    """``POST /api/v1/sender/batches``: one item per (idempotency key, PDF, company), the
    statement type, issued a minute ago."""
    issued = datetime.now(UTC) - timedelta(minutes=1)
    return publish_batch(http, token, items, issued_at=issued, timeout=120)


def _all_published(answer: httpx.Response, expected: int) -> bool:
    if answer.status_code != 201:
        return False
    items = answer.json()["items"]
    return len(items) == expected and all(
        r["status"] == "published" for item in items for r in item["results"]
    )


@contextlib.contextmanager
def _clients(base: str, n: int) -> Iterator[list[httpx.Client]]:
    clients = [httpx.Client(base_url=base, timeout=120) for _ in range(n)]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


def _lanes(
    operations: list[Callable[[int], str | None]], seconds: float, rate: float | None
) -> list[Samples]:
    if rate is None:
        return thread_lanes(operations, seconds)
    return thread_open(operations, seconds, rate)


def spread_mix(
    base: str,
    token: str,
    companies: Sequence[Siren],
    lanes: int,
    seconds: float,
    rate: float | None,
    tally: Counted,
) -> list[Samples]:
    """One publication a request, each to the next company of ``companies`` (so to the
    next subscription): ``lanes`` threads."""
    bodies = [body_of(10_000 + n, 30_000) for n in range(_BODIES)]
    run, keys, turn = time.time_ns(), itertools.count(), itertools.count()

    def operation(http: httpx.Client, lane: int) -> Callable[[int], str | None]:
        def one(n: int) -> str | None:
            key = f"spread-{run}-{lane}-{next(keys)}"
            company = companies[next(turn) % len(companies)]
            answer = _post_one(http, token, bodies[n % _BODIES], key, company)
            return None if _all_one(answer) else f"{answer.status_code}"

        return one

    with _clients(base, lanes) as clients:
        samples = _lanes([operation(c, n) for n, c in enumerate(clients)], seconds, rate)
    tally.publications += sum(sum(s.ok) for s in samples)
    return samples


def _all_one(answer: httpx.Response) -> bool:
    return answer.status_code == 201 and answer.json()["results"][0]["status"] == "published"


def batch_mix(
    base: str,
    token: str,
    companies: Sequence[Siren],
    size: int,
    lanes: int,
    seconds: float,
    rate: float | None,
    tally: Counted,
) -> list[Samples]:
    """Batches of ``size`` documents a request, the items cycling over ``companies`` (one
    company: one subscription's burst); ``lanes`` threads. An operation is a batch; the
    tally counts documents."""
    bodies = [body_of(10_000 + n, 30_000) for n in range(_BODIES)]
    run, keys, turn = time.time_ns(), itertools.count(), itertools.count()

    def operation(http: httpx.Client, lane: int) -> Callable[[int], str | None]:
        def one(n: int) -> str | None:
            items = [
                (
                    f"batch-{run}-{lane}-{next(keys)}",
                    bodies[(n * size + i) % _BODIES],
                    companies[next(turn) % len(companies)],
                )
                for i in range(size)
            ]
            answer = post_batch(http, token, items)
            return None if _all_published(answer, size) else f"{answer.status_code}"

        return one

    with _clients(base, lanes) as clients:
        samples = _lanes([operation(c, n) for n, c in enumerate(clients)], seconds, rate)
    tally.publications += size * sum(sum(s.ok) for s in samples)
    return samples
