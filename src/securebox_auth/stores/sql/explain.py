"""PostgreSQL's plan for a catalogue page, as the server runs it (see
:meth:`~securebox_auth.stores.sql.catalogue.SqlCatalogue.explain`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

__all__ = ["explain_postgresql"]


def explain_postgresql(
    engine: Engine, sql: str, params: Sequence[Any], *, generic: bool
) -> list[str]:
    import psycopg  # noqa: PLC0415 - PostgreSQL only

    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        if not isinstance(driver, psycopg.Connection):  # pragma: no cover
            raise TypeError("expected a psycopg connection")
        with psycopg.ClientCursor(driver) as cursor:
            if not generic:
                cursor.execute(f"EXPLAIN {sql}", params)
                lines = [str(row[0]) for row in cursor.fetchall()]
            else:
                numbered = sql
                for index in range(1, len(params) + 1):
                    numbered = numbered.replace("%s", f"${index}", 1)
                cursor.execute("SET plan_cache_mode = force_generic_plan")
                cursor.execute(f"PREPARE securebox_explain AS {numbered}")
                try:
                    placeholders = ", ".join(["%s"] * len(params))
                    cursor.execute(f"EXPLAIN EXECUTE securebox_explain({placeholders})", params)
                    lines = [str(row[0]) for row in cursor.fetchall()]
                finally:
                    cursor.execute("DEALLOCATE securebox_explain")
                    cursor.execute("RESET plan_cache_mode")
        driver.rollback()
    finally:
        raw.close()
    return lines
