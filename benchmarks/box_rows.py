"""The rows one publication writes, read back from the database, and the same rows written
again by hand: the bare baseline of ``bench_box_ingest.py``.

:func:`written` compares every table of the library and of the server before and after one
``DocumentStore.publish`` and keeps what it inserted and what it updated. :class:`Bare`
writes those rows again for another body: one plain ``INSERT`` (``executemany``) per table
that received rows and one ``UPDATE`` per row the publication updated (a feed head, an
audit chain's head, a document count; written again with its current values, so that the
store's heads stay where they are), in one transaction, through the raw driver (no
SQLAlchemy). Key
values (primary keys, unique columns) get a per-copy suffix or offset so that copies do not
collide; a value equal to a rewritten key (the document id in the notification rows, the
body's digest) is rewritten alike, so the copies are consistent rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import Engine

from securebox_auth.stores.sql.schema import METADATA as LIBRARY
from securebox_server.db.schema import METADATA as SERVER

__all__ = ["Bare", "Written", "snapshot", "written"]

#: Integer keys (sequence numbers) move by this much per copy: more than one publication
#: ever adds.
STRIDE: Final = 1_000
Rows = dict[tuple[Any, ...], tuple[Any, ...]]


def _tables() -> list[sa.Table]:
    return [*LIBRARY.sorted_tables, *SERVER.sorted_tables]


def _key(table: sa.Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


def snapshot(engine: Engine) -> dict[str, Rows]:
    """Every row of every table, by primary key."""
    found: dict[str, Rows] = {}
    inspector = sa.inspect(engine)
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        for table in _tables():
            if not inspector.has_table(table.name):
                continue
            names = [c.name for c in table.columns]
            cursor.execute(f"SELECT {', '.join(names)} FROM {table.name}")  # noqa: S608
            key = [names.index(k) for k in _key(table)]
            found[table.name] = {tuple(r[i] for i in key): tuple(r) for r in cursor.fetchall()}
    finally:
        raw.close()
    return found


@dataclass(frozen=True, slots=True)
class Written:
    """Per table, the columns and the rows a publication inserted, and those it updated."""

    inserted: dict[str, tuple[list[str], list[tuple[Any, ...]]]]
    updated: dict[str, tuple[list[str], list[tuple[Any, ...]]]]

    def describe(self) -> str:
        parts = [f"{t} +{len(rows)}" for t, (_, rows) in self.inserted.items()]
        parts += [f"{t} ~{len(rows)}" for t, (_, rows) in self.updated.items()]
        return ", ".join(parts)


def written(before: dict[str, Rows], after: dict[str, Rows]) -> Written:
    inserted: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    updated: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    for table in _tables():
        old, new = before.get(table.name, {}), after.get(table.name, {})
        names = [c.name for c in table.columns]
        added = [row for key, row in new.items() if key not in old]
        changed = [row for key, row in new.items() if key in old and old[key] != row]
        if added:
            inserted[table.name] = (names, added)
        if changed:
            updated[table.name] = (names, changed)
    return Written(inserted, updated)


def _unique_columns(table: sa.Table) -> set[str]:
    found = set(_key(table))
    for index in table.indexes:
        if index.unique:
            found |= {c.name for c in index.columns}
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint):
            found |= {c.name for c in constraint.columns}
    return found


def _renamed(value: str, n: int, length: int | None) -> str:
    """``value`` made distinct for copy ``n``, within the column's ``length``."""
    suffix = f"~{n}"
    limit = min(length or 64, 64)
    return value[: limit - len(suffix)] + suffix


class Bare:
    """Copies of ``rows`` written by hand on ``engine`` (a database of the same schema)."""

    def __init__(self, engine: Engine, rows: Written) -> None:
        self.postgresql = engine.dialect.name == "postgresql"
        self.rows = rows
        tables = {t.name: t for t in _tables()}
        #: The integer id columns the database numbers itself (left out of the copies).
        self._serial = {
            name: {c.name for c in tables[name].primary_key.columns if c.autoincrement is True}
            for name in rows.inserted
        }
        self._unique = {name: _unique_columns(tables[name]) for name in rows.inserted}
        self._lengths = {
            name: {c.name: getattr(c.type, "length", None) for c in tables[name].columns}
            for name in rows.inserted
        }
        self._keys = {name: _key(tables[name]) for name in rows.updated}
        self._raw = engine.raw_connection()
        self._copies = 0

    def _mark(self) -> str:
        return "%s" if self.postgresql else "?"

    def _rewrite(
        self, table: str, names: Sequence[str], row: tuple[Any, ...], n: int,
        body: bytes, mapping: dict[Any, Any],
    ) -> dict[str, Any]:  # fmt: skip
        values = dict(zip(names, row, strict=True))
        if table == "box_blobs":
            mapping[values["digest"]] = hashlib.sha256(body).hexdigest()
            values.update(body=body, size=len(body))
        for name in self._unique[table]:
            value = values[name]
            if isinstance(value, str) and value not in mapping:
                mapping[value] = _renamed(value, n, self._lengths[table].get(name))
            elif isinstance(value, int) and not isinstance(value, bool):
                values[name] = value + n * STRIDE
        for name, value in values.items():
            if isinstance(value, str) and value in mapping:
                values[name] = mapping[value]
        for name in self._serial[table]:
            values.pop(name)
        return values

    def write(self, body: bytes) -> None:
        """One copy of the publication's rows, with ``body``, in one transaction."""
        self._copies += 1
        n = self._copies
        mapping: dict[Any, Any] = {}
        cursor: Any = self._raw.cursor()
        mark = self._mark()
        if not self.postgresql:
            cursor.execute("BEGIN")
        for table, (names, rows) in self.rows.inserted.items():
            copies = [self._rewrite(table, names, row, n, body, mapping) for row in rows]
            columns = list(copies[0])
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - schema names
                f"VALUES ({', '.join(mark for _ in columns)})",
                [tuple(c[k] for k in columns) for c in copies],
            )
        for table, (names, rows) in self.rows.updated.items():
            # The same row written again with its current values: the row lock and the
            # write of a new row version, without moving a head the store relies on.
            keys = self._keys[table]
            sets = ", ".join(f"{name} = {name}" for name in names if name not in keys)
            where = " AND ".join(f"{name} = {mark}" for name in keys)
            for row in rows:
                values = dict(zip(names, row, strict=True))
                cursor.execute(
                    f"UPDATE {table} SET {sets} WHERE {where}",  # noqa: S608 - schema names
                    tuple(values[k] for k in keys),
                )
        if self.postgresql:
            self._raw.commit()
        else:
            cursor.execute("COMMIT")

    def close(self) -> None:
        self._raw.close()
