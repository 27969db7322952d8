"""Column types shared by the schema and the migrations.

* :class:`UtcDateTime`: aware datetimes in, aware UTC datetimes out. PostgreSQL stores a
  ``timestamptz``; SQLite stores UTC text with microseconds (``YYYY-MM-DD HH:MM:SS.ffffff``),
  which sorts as the instants do, so ranges and keyset comparisons work on its indexes.
* :func:`key_string`: text compared byte by byte on both databases (``COLLATE "C"`` on
  PostgreSQL), so ordering by a key is the same in SQL as in Python whatever the database's
  default collation is.
* :func:`text_array`: a set of values as one PostgreSQL ``text[]`` literal parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from securebox_auth.errors import InvalidTime

__all__ = ["UtcDateTime", "instant", "key_string", "key_text", "text_array"]


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored in UTC and read back as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidTime("a stored datetime must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        del dialect
        return instant(value)


def instant(value: object) -> datetime | None:
    """A datetime column's value as an aware UTC datetime, whether it comes through
    SQLAlchemy (a datetime) or straight from the driver (SQLite: UTC text)."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value if value.tzinfo is UTC else value.astimezone(UTC)
    raise InvalidTime("the database returned a non-datetime value")


def key_string(length: int) -> TypeEngine[str]:
    """``VARCHAR(length)``, byte-ordered on PostgreSQL."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def key_text() -> TypeEngine[str]:
    """``TEXT``, byte-ordered on PostgreSQL."""
    return Text().with_variant(Text(collation="C"), "postgresql")


def text_array(values: Iterable[str]) -> str:
    """``values`` as a PostgreSQL array literal of text, every element quoted (so that no
    value reads as ``NULL`` or loses its spaces) with ``"`` and ``\\`` escaped. Sent as one
    string and cast by the statement (``%s::text[]``): psycopg dumps a Python list element
    by element at every execution (about 50 µs a page for 40 companies on loopback), and
    the literal is built once per kept plan."""
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"
