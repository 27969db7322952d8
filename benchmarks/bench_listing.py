"""What a portal does for a listing: ``EntitlementService.check_in`` (the right to view the
document the user opens) + ``EntitlementService.visible_in``, both on one read of the user's
standing (``EntitlementService.standing``), + the newest 20 of the catalogue,
on the bank of ``sql_world.py`` (1,000,000 documents, 10,000 users), in memory, on SQLite
and on PostgreSQL.

Users: ``whole`` sees the whole portfolio of a large subscription; ``partial`` some
companies and themes of a large subscription (its 41 KB subscription document names about a
hundred invitations); ``third`` is an accountant who sees their own small subscription and
three companies of a large one that invited them.

Rows, each against a baseline measured in the same run (ADR 0022):

* ``warm``: the store's cache of decoded subscriptions and the service's filter memo hold
  the current versions (the steady state);
* ``cold``: the first call after the user's subscriptions changed version (committed through
  another store, as another process would): the store decodes them again;
* ``no cache`` (reference, no target): the same store with both caches off (the state
  before ADR 0022).

Baseline: the minimal work any correct listing does on that database: one hand-written
indexed query reading the account's status and the subscription's version (the rights must
be confirmed current), the pure ``check`` on values already decoded, and the best
hand-written SQL for the page (raw driver). In memory: the pure ``check`` and the page with
a precomputed filter. Targets: warm <= 5x the baseline (as in bench_sql.py) and <= 0.5 ms
median (shown as a ratio to a 0.5 ms budget); cold rows are shown against the budget
without a target (a version change happens once per change of rights, not per request).

PostgreSQL: ``SECUREBOX_BENCH_POSTGRES_URL`` (default ``postgresql://127.0.0.1:5432/postgres``),
skipped with a message when unreachable. ``--quick``: 200,000 documents, fewer rounds.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from harness import Comparison, Timing, compare
from listing_world import Listing, hand_page, load_rights, memory_listing
from sql_world import NOW, World, build_world, load_postgresql, load_sqlite
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from securebox_auth.entitlements.catalogue import DocumentQuery
from securebox_auth.entitlements.check import check
from securebox_auth.entitlements.model import Operation
from securebox_auth.identity import ClientId, Principal
from securebox_auth.stores.protocols import PutSubscription
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore

FULL_DOCUMENTS: Final = 1_000_000
QUICK_DOCUMENTS: Final = 200_000
BUDGET: Final = Timing("budget: 0.5 ms", 0.5e-3, 1, 1)
USERS: Final = {"whole": "100000003:02", "partial": "100000001:05", "third": "100000500:09"}
NEWEST: Final = DocumentQuery(limit=20)


def _cold(
    name: str, subject: Callable[[], object], baseline: Callable[[], object],
    change: Callable[[], None], rounds: int,
) -> Comparison:  # fmt: skip
    """One timed call after each change (untimed), interleaved with the baseline."""
    subject_s: list[float] = []
    baseline_s: list[float] = []
    for _ in range(rounds):
        change()
        start = time.perf_counter()
        baseline()
        baseline_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        subject()
        subject_s.append(time.perf_counter() - start)
    return Comparison(
        Timing(name, statistics.median(subject_s), rounds, 1),
        Timing("same baseline", statistics.median(baseline_s), rounds, 1),
        float("inf"),
    )


def _rows(
    listing: Listing, label: str, baseline: tuple[str, Callable[[], object]],
    change: Callable[[], None] | None, rounds: int, inner: int,
) -> list[Comparison]:  # fmt: skip
    warm = compare(
        (f"{label}, warm", listing.request),
        baseline,
        target=5.0,
        rounds=rounds,
        inner=inner,
    )
    # The budget is for the SQL stores; in memory the page is MemoryCatalogue's linear scan.
    results = [warm, Comparison(warm.subject, BUDGET, 1.0 if change else float("inf"))]
    if change is not None:
        cold = _cold(f"{label}, cold", listing.request, baseline[1], change, rounds * 2)
        results += [cold, Comparison(cold.subject, BUDGET, float("inf"))]
    return results


def _memory(world: World, engine: Engine, tag: str, rounds: int) -> list[Comparison]:
    results: list[Comparison] = []
    for who, key in USERS.items():
        listing, bare = memory_listing(world, engine, Principal.parse(*key.split(":")))
        results += _rows(
            listing, f"check + newest 20, {who} [{tag}]", ("pure check + page", bare), None,
            rounds, 20,
        )  # fmt: skip
    return results


def _sql(world: World, engine: Engine, tag: str, rounds: int) -> list[Comparison]:
    load_rights(world, engine)
    catalogue = SqlCatalogue(engine)
    writer = SqlStore(engine, audit_key=b"w" * 32)
    results: list[Comparison] = []
    raw = engine.raw_connection()
    postgresql = engine.dialect.name == "postgresql"
    if postgresql:
        raw.driver_connection.autocommit = True  # type: ignore[union-attr]
    cursor: Any = raw.cursor()
    rights_sql = (
        "SELECT a.status, s.version FROM accounts a JOIN subscriptions s "
        "ON s.client_id = a.client_id WHERE a.client_id = ? AND a.user_number = ?"
    )
    if postgresql:
        rights_sql = rights_sql.replace("?", "%s")
    for who, key in USERS.items():
        principal = Principal.parse(*key.split(":"))
        listing = Listing.on(engine, catalogue, principal)
        page = listing.request()
        doc = listing.doc
        account, sub = world_values(world, principal, doc.client_id)
        hand = hand_page(engine, listing.filter, NEWEST, [d.document_id for d in page.documents])
        params = (principal.client_id.value, principal.user_number.value)

        def bare(hand: Callable[[], object] = hand, params: Sequence[str] = params,
                 account: Any = account, sub: Any = sub, doc: Any = doc) -> None:  # fmt: skip
            cursor.execute(rights_sql, params)
            cursor.fetchall()
            check(account, Operation.VIEW, doc, sub, NOW)
            hand()

        def change(listing: Listing = listing) -> None:
            """Every subscription the user reads gets a new version (content unchanged)."""
            for client_id in listing.subscriptions:
                found = writer.get_subscription(client_id)
                assert found is not None
                writer.commit([PutSubscription(client_id, found.version, found.value)], [])

        label = f"check + newest 20, {who} [{tag}]"
        baseline = ("rights query + pure check + best hand-written page", bare)
        results += _rows(listing, label, baseline, change, rounds, 10)
        uncached = Listing.on(engine, catalogue, principal, cached=False)
        reference = compare(
            (f"(reference) {label}, no cache", uncached.request), baseline,
            target=float("inf"), rounds=max(3, rounds // 3), inner=2,
        )  # fmt: skip
        results.append(reference)
    raw.close()
    return results


def world_values(world: World, principal: Principal, client: ClientId) -> tuple[Any, Any]:
    """The account and the subscription of the document, as decoded values."""
    account = next(a for a in world.accounts if a.principal == principal)
    return account, world.subscriptions[int(client.value) - 100_000_000]


def _postgresql(world: World) -> Engine | None:
    admin_url = os.environ.get(
        "SECUREBOX_BENCH_POSTGRES_URL", "postgresql://127.0.0.1:5432/postgres"
    )
    try:
        probe = create_engine(admin_url)
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.dispose()
    except OperationalError as exc:
        print(f"bench_listing: PostgreSQL skipped ({exc.orig})", file=sys.stderr)
        return None
    return load_postgresql(world, admin_url)[0]


def run(quick: bool = False) -> list[Comparison]:
    documents = QUICK_DOCUMENTS if quick else FULL_DOCUMENTS
    world = build_world(documents)
    tag = f"{documents // 1000}k docs" + (", quick" if quick else "")
    rounds = 5 if quick else 15
    sqlite_engine, _ = load_sqlite(world)
    results = _memory(world, sqlite_engine, f"memory, {tag}", rounds)
    results += _sql(world, sqlite_engine, f"SQLite, {tag}", rounds)
    pg_engine = _postgresql(world)
    if pg_engine is not None:
        results += _sql(world, pg_engine, f"PostgreSQL, {tag}", rounds)
    return results
