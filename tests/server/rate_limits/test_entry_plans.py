"""A hit's statements on a busy key read the index, not every entry of the key (s0013).

``login.global`` (2,000 a 10 seconds) holds up to 2,000 live entries under load, and every
limited request deletes its keys' expired entries and counts the live ones with their oldest
expiry. With the entries indexed by ``(key, at)``, the count found the key's entries in the
index and then read each one's row for its expiry: on SQLite a hit on a key of 1,800 entries
cost 3.9 ms of CPU against 0.7 ms on an empty one (1.4 ms with the index of s0013). Indexed
by ``(key, expires_at)``, the count reads the index alone (SQLite's covering index; on
PostgreSQL an index-only scan depends on the visibility map) and the delete of expired
entries reads those alone. Checked by plan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from securebox_server.rate_limits.storage import (
    _EXPIRED_PG,
    _EXPIRED_SQLITE,
    _LIVE_SQLITE,
    _digest,
)

NOW = 1_000_000.0
LIVE = 2_000
EXPIRED = 20


@pytest.fixture
def busy(limits_engine: Engine) -> Iterator[tuple[Any, str]]:
    """A raw connection to a database whose one key holds ``LIVE`` live and ``EXPIRED``
    expired entries (and a few of another key), statistics up to date."""
    key, other = _digest("login.global/busy"), _digest("login.source/other")
    rows = [(key, NOW - 5 + i / LIVE, NOW + 5 + i / LIVE) for i in range(LIVE)]
    rows += [(key, NOW - 20 + i / 100, NOW - 10 + i / 100) for i in range(EXPIRED)]
    rows += [(other, NOW, NOW + 300) for _ in range(10)]
    raw: Any = limits_engine.raw_connection()
    try:
        mark = "%s" if limits_engine.dialect.name == "postgresql" else "?"
        cursor = raw.cursor()
        insert = "INSERT INTO rate_limit_entries (key, at, expires_at) VALUES (?, ?, ?)"
        cursor.executemany(insert.replace("?", mark), rows)
        cursor.execute("ANALYZE rate_limit_entries")
        raw.commit()
        yield raw, key
    finally:
        raw.rollback()
        raw.close()


def _plan(raw: Any, sql: str, params: tuple[Any, ...]) -> str:
    cursor = raw.cursor()
    cursor.execute("EXPLAIN " + ("QUERY PLAN " if "?" in sql else "") + sql, params)
    return " ".join(str(row[-1]) for row in cursor.fetchall())


def test_the_expired_entries_are_found_by_the_index(
    busy: tuple[Any, str], limits_engine: Engine
) -> None:
    raw, key = busy
    if limits_engine.dialect.name == "sqlite":
        plan = _plan(raw, _EXPIRED_SQLITE, (json.dumps([key]), NOW))
        assert "ix_rate_limit_entries_key_expires_at (ANY(key) AND expires_at<?)" in plan, plan
        live = _plan(raw, _LIVE_SQLITE, (json.dumps([key]),))
        assert "COVERING INDEX ix_rate_limit_entries_key_expires_at" in live, live
        return
    cursor = raw.cursor()
    cursor.execute("SET enable_seqscan = off")  # the table is small: the index, if it fits
    plan = _plan(raw, _EXPIRED_PG, ([key], NOW))
    assert "expires_at <=" in plan.split("Index Cond:")[1], plan  # not a filter on the rows
