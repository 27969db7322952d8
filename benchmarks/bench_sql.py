"""The SQL catalogue and store on 1,000,000 documents and 10,000 users, on SQLite and
PostgreSQL, against the best hand-written SQL for the same answer measured in the same run.

Every page is timed warm (the same page again and again: database caches, prepared
statements, the catalogue's cached counts) and cold (before each call: a new connection, a
new catalogue, the database files dropped from the OS page cache; see ``cold.py``), each
against the same hand-written query in the same state. (Consuming a grant moved to
bench_consume.)

Cases (users of the generated bank in ``sql_world.py``):

* ``whole``: the 20 newest documents of a user who sees the whole portfolio (40 companies)
  of a large subscription;
* ``partial``: the same for a user with some companies and themes of a large subscription;
* ``third``: an accountant who sees their own small subscription and 3 companies of a
  large one that invited them;
* ``search``: the second page (keyset cursor) of a search by date range, theme and label;

The hand-written baseline of each case is the fastest of a few queries an expert would write
knowing the user's rights (raw driver, no SQLAlchemy), measured first; the subject goes
through ``SqlCatalogue.page`` (rights to filter, plan, SQL, rows to ``DocumentRef``). Targets:
<= 5x the baseline, and <= 1 ms median (shown as a ratio to a 1 ms budget). A naive
``company IN (...) ORDER BY ... LIMIT`` is shown for reference.

PostgreSQL: ``SECUREBOX_BENCH_POSTGRES_URL`` (default ``postgresql://127.0.0.1:5432/postgres``)
names a database from which the benchmark database is created; skipped with a message when
the server cannot be reached. ``--quick`` uses 200,000 documents (said in every line).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Final

from cold import drop_os_cache
from harness import Comparison, Timing, compare, compare_cold
from sql_hand import COLUMNS, ORDER, Hand, Query, best, candidates
from sql_world import NOW, World, build_world, load_postgresql, load_sqlite
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from securebox_auth.entitlements.accounts import Account
from securebox_auth.entitlements.catalogue import DocumentQuery
from securebox_auth.entitlements.model import Theme
from securebox_auth.entitlements.visibility import VisibilityFilter
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_auth.stores.sql.engine import create_engine

FULL_DOCUMENTS: Final = 1_000_000
QUICK_DOCUMENTS: Final = 200_000
BUDGET: Final = Timing("budget: 1 ms", 1e-3, 1, 1)


def _case(
    name: str,
    suffix: str,
    catalogue: SqlCatalogue,
    hand: Hand,
    visible: VisibilityFilter,
    query: DocumentQuery,
    rounds: int,
    extra: dict[str, Query] | None = None,
) -> list[Comparison]:
    page = catalogue.page(visible, query)
    assert page.next is not None, f"{name}: the user must see more than a page"
    following = catalogue.page(visible, replace(query, after=page.next))
    expected = [d.document_id for d in (*page.documents, *following.documents[:1])]
    found = candidates(hand, visible, query)
    found.update(extra or {})
    label, baseline, chosen, mode = best(name, hand, found, expected)
    warm = compare(
        (f"{name}, warm{suffix}", lambda: catalogue.page(visible, query)),
        (f"best hand-written SQL ({label})", baseline),
        target=5.0,
        rounds=rounds,
        inner=20,
    )
    return [warm, Comparison(warm.subject, BUDGET, 1.0), _cold(name, suffix, catalogue, chosen,
            mode, visible, query, label, max(3, rounds // 2))]  # fmt: skip


def _cold(
    name: str,
    suffix: str,
    catalogue: SqlCatalogue,
    query_sql: Query,
    mode: bool | None,
    visible: VisibilityFilter,
    query: DocumentQuery,
    label: str,
    rounds: int,
) -> Comparison:
    """The same page cold: a new connection, a new catalogue (no cached counts) and the
    database files dropped from the OS page cache, before each call; the hand-written query
    likewise on a new raw connection."""
    engine = catalogue.engine
    subject: list[SqlCatalogue] = []
    runner: list[Callable[[], object]] = []
    hands: list[Hand] = []

    def empty() -> None:
        for hand in hands:
            hand.close()
        hands.clear()
        engine.dispose()
        if not drop_os_cache(engine):
            raise RuntimeError("cannot drop the OS cache")

    def prepare_subject() -> None:
        empty()
        with engine.connect():  # connected before the clock starts
            pass
        subject[:] = [SqlCatalogue(engine)]

    def prepare_baseline() -> None:
        empty()
        hands.append(Hand(engine))
        runner[:] = [hands[0].runner(query_sql, prepare=mode)]

    def hand_page() -> object:
        return runner[0]()

    result = compare_cold(
        (f"{name}, cold{suffix}", prepare_subject, lambda: subject[0].page(visible, query)),
        (f"same hand-written SQL, cold ({label})", prepare_baseline, hand_page),
        target=5.0,
        rounds=rounds,
    )
    empty()
    return result


def _catalogue_cases(world: World, engine: Engine, tag: str, rounds: int) -> list[Comparison]:
    catalogue = SqlCatalogue(engine)
    hand = Hand(engine)
    suffix = f" [{tag}]"
    by_key: dict[str, Account] = {a.principal.key: a for a in world.accounts}
    whole = by_key["100000003:02"]
    partial = by_key["100000001:05"]
    third = by_key["100000500:09"]
    newest = DocumentQuery(limit=20)
    whole_filter = world.filter_for(whole)
    client = whole.principal.client_id.value
    companies = sorted(s.value for c in whole_filter.clauses for s in c.companies)
    results: list[Comparison] = []
    results += _case(
        "newest 20, whole portfolio",
        suffix,
        catalogue,
        hand,
        whole_filter,
        newest,
        rounds,
        {
            "subscription only": (
                f"SELECT {COLUMNS} FROM documents WHERE client_id = ? {ORDER} LIMIT 21",
                [client],
            )
        },
    )
    results += _case(
        "newest 20, partial rights",
        suffix,
        catalogue,
        hand,
        world.filter_for(partial),
        newest,
        rounds,
    )
    results += _case(
        "newest 20, third party", suffix, catalogue, hand, world.filter_for(third), newest, rounds
    )
    search = DocumentQuery(
        limit=20,
        issued_from=NOW - timedelta(days=730),
        theme=Theme(world.themes[3][0]),
        label="paie",
    )
    first = catalogue.page(whole_filter, search)
    assert first.next is not None
    results += _case(
        "search page 2 (dates, theme, label)",
        suffix,
        catalogue,
        hand,
        whole_filter,
        replace(search, after=first.next),
        rounds,
    )
    # The naive form, for reference (no target).
    naive_sql, naive_params = hand.among("company", companies)
    naive = hand.runner(
        (
            f"SELECT {COLUMNS} FROM documents WHERE client_id = ? AND {naive_sql} {ORDER} LIMIT 21",
            [client, *naive_params],
        )
    )
    results.append(
        compare(
            (f"(reference) naive IN-list + sort{suffix}", naive),
            ("SqlCatalogue.page, whole portfolio", lambda: catalogue.page(whole_filter, newest)),
            target=float("inf"),
            rounds=3,
            inner=1,
        )
    )
    hand.close()
    return results


def _postgresql(world: World) -> tuple[Engine, float] | None:
    admin_url = os.environ.get(
        "SECUREBOX_BENCH_POSTGRES_URL", "postgresql://127.0.0.1:5432/postgres"
    )
    try:
        probe = create_engine(admin_url)
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.dispose()
    except OperationalError as exc:
        print(
            f"bench_sql: PostgreSQL skipped ({admin_url} unreachable: {exc.orig})", file=sys.stderr
        )
        return None
    return load_postgresql(world, admin_url)


def run(quick: bool = False) -> list[Comparison]:
    documents = QUICK_DOCUMENTS if quick else FULL_DOCUMENTS
    world = build_world(documents)
    tag = f"{documents // 1000}k docs" + (", quick" if quick else "")
    rounds = 5 if quick else 9
    results: list[Comparison] = []
    sqlite_engine, built = load_sqlite(world)
    if built:
        print(f"bench_sql: built the SQLite catalogue in {built:.0f} s (cached)", file=sys.stderr)
    results += _catalogue_cases(world, sqlite_engine, f"SQLite, {tag}", rounds)
    found = _postgresql(world)
    if found is not None:
        pg_engine, built = found
        if built:
            print(
                f"bench_sql: built the PostgreSQL catalogue in {built:.0f} s (cached)",
                file=sys.stderr,
            )
        results += _catalogue_cases(world, pg_engine, f"PostgreSQL, {tag}", rounds)
    return results
