"""The query plan of the page's row lookup on SQLite: the twenty ids of a page are looked up
by the primary key, never by walking a ``(status, ...)`` index over every live document
(with 1,000,000 documents: 0.4 s a page instead of 0.2 ms; without statistics SQLite's
planner guesses that ``status = 'live'`` selects a few rows)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from securebox_auth.stores.sql.database import Database
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.box.page_reads import PageReads
from securebox_server.wiring import migrate_database


def test_a_page_of_rows_is_looked_up_by_id_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "box.sqlite3"
    migrate_database(f"sqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    try:
        sql = PageReads(Database(engine))._listed_sql(20)
    finally:
        engine.dispose()
    params = ("123456789", "01", "1970-01-01 00:00:00.000000", *(f"doc-{n}" for n in range(20)))
    with sqlite3.connect(path) as conn:
        plan = [str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    documents = [step for step in plan if step.startswith(("SEARCH d", "SCAN d"))]
    assert documents == ["SEARCH d USING INDEX sqlite_autoindex_box_documents_1 (id=?)"], plan
