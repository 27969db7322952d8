"""Hand-written SQL for the catalogue benchmark: what an expert would write knowing the
user's rights, through the raw driver (no SQLAlchemy), and the pick of the fastest that
returns the catalogue's answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from harness import measure
from sqlalchemy import Engine

from securebox_auth.entitlements.catalogue import DocumentQuery
from securebox_auth.entitlements.visibility import VisibilityFilter

__all__ = ["COLUMNS", "ORDER", "Hand", "Query", "best", "candidates"]

COLUMNS: Final = "id, client_id, company, theme, label, issued_at"
ORDER: Final = "ORDER BY issued_at DESC, id DESC"

Query = tuple[str, Sequence[Any]]
Conditions = list[tuple[str, list[Any]]]


class Hand:
    """Hand-written SQL through the raw driver connection (SQLite ``?`` or psycopg ``%s``)."""

    def __init__(self, engine: Engine) -> None:
        self.postgresql = engine.dialect.name == "postgresql"
        self._raw = engine.raw_connection()
        if self.postgresql:
            self._raw.driver_connection.autocommit = True  # type: ignore[union-attr]

    def sql(self, template: str) -> str:
        return template.replace("?", "%s") if self.postgresql else template

    def runner(self, query: Query, *, prepare: bool | None = None) -> Callable[[], object]:
        """Run ``query``; on PostgreSQL ``prepare=False`` plans it with its values every
        time, ``None`` lets psycopg prepare it (the server may then reuse a generic plan)."""
        sql, params = self.sql(query[0]), tuple(query[1])
        cursor: Any = self._raw.cursor()

        def run() -> object:
            if self.postgresql:
                cursor.execute(sql, params, prepare=prepare)
            else:
                cursor.execute(sql, params)
            return cursor.fetchall()

        return run

    def rows(self, query: Query) -> list[Any]:
        rows: Any = self.runner(query)()
        return list(rows)

    def among(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        if self.postgresql:
            return f"{column} = ANY(?)", [list(values)]
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    def union(self, arms: Sequence[Query], limit: int) -> Query:
        """Arms merged newest first (each arm with its own LIMIT on PostgreSQL)."""
        if len(arms) == 1:
            return f"{arms[0][0]} {ORDER} LIMIT {limit}", list(arms[0][1])
        params: list[Any] = []
        parts = []
        for sql, ps in arms:
            parts.append(f"({sql} {ORDER} LIMIT {limit})" if self.postgresql else sql)
            params += ps
        return " UNION ALL ".join(parts) + f" {ORDER} LIMIT {limit}", params

    def close(self) -> None:
        self._raw.close()


def best(
    name: str, hand: Hand, candidates: dict[str, Query], expected: list[str]
) -> tuple[str, Callable[[], object], Query, bool | None]:
    """The fastest candidate that returns ``expected`` (document ids, in order); on
    PostgreSQL each both prepared and planned with its values: its label, its runner, the
    query and the preparation mode."""
    timings = []
    modes: tuple[bool | None, ...] = (None, False) if hand.postgresql else (None,)
    for label, query in candidates.items():
        got = [row[0] for row in hand.rows(query)]
        if got != expected:
            raise AssertionError(f"{name}: hand-written {label!r} disagrees with the catalogue")
        for mode in modes:
            run = hand.runner(query, prepare=mode)
            shown = label if mode is None else f"{label}, planned per call"
            timings.append(
                (measure(shown, run, rounds=5, inner=5).median_s, shown, run, query, mode)
            )
    _, label, run, query, mode = min(timings, key=lambda t: t[0])
    return label, run, query, mode


def _scope(visible: VisibilityFilter) -> list[tuple[str, list[str], list[str] | None]]:
    return [
        (
            c.client_id.value,
            sorted(s.value for s in c.companies),
            None if c.themes is None else sorted(t.name for t in c.themes),
        )
        for c in visible.clauses
    ]


def candidates(hand: Hand, visible: VisibilityFilter, query: DocumentQuery) -> dict[str, Query]:
    """What an expert would try for this user: merged per-slice scans, a scan of each
    subscription or of each theme with the rights as a filter, and (PostgreSQL) the same
    scans with the filter written so that the planner must keep the ordered index scan."""
    limit = query.limit + 1
    seek: list[str] = []
    seek_params: list[Any] = []
    if query.issued_from is not None:
        seek.append("issued_at >= ?")
        seek_params.append(query.issued_from)
    if query.after is not None:
        seek.append("(issued_at, id) < (?, ?)")
        seek_params += [query.after.issued_at, query.after.document_id]
    if not hand.postgresql:  # SQLite stores UTC text
        seek_params = [
            p.strftime("%Y-%m-%d %H:%M:%S.%f") if hasattr(p, "strftime") else p for p in seek_params
        ]
    label: list[Any] = []
    if query.label is not None:
        label.append(("label_folded LIKE ?", [f"%{query.label.casefold()}%"]))
    only = query.theme.name if query.theme is not None else None

    def arm(index: str, where: Conditions, filters: list[Any], fenced: bool) -> Query:
        conditions = [w for w, _ in where] + seek
        params = [v for _, ps in where for v in ps] + seek_params
        if filters:
            text = " AND ".join(f for f, _ in filters)
            conditions.append(f"coalesce(({text}), false)" if fenced else text)
            params += [v for _, ps in filters for v in ps]
        hint = "" if hand.postgresql else f" INDEXED BY {index}"
        return (f"SELECT {COLUMNS} FROM documents{hint} WHERE {' AND '.join(conditions)}", params)

    def theme_filter(themes: list[str] | None) -> list[Any]:
        if only is not None:
            return [("theme = ?", [only])]
        return [hand.among("theme", themes)] if themes is not None else []

    candidates: dict[str, Query] = {}
    for fenced in (False, True) if hand.postgresql else (False,):
        sliced: list[Query] = []
        scans: list[Query] = []
        by_theme: list[Query] = []
        theme_ok = True
        for client, companies, themes in _scope(visible):
            if only is not None and themes is not None and only not in themes:
                continue
            slice_themes = [only] if only is not None else themes
            for company in companies:
                base = [("client_id = ?", [client]), ("company = ?", [company])]
                flags = (label, fenced)
                if slice_themes is None:
                    sliced.append(arm("ix_documents_company", base, label, fenced))
                else:
                    sliced += [
                        arm("ix_documents_company_theme", [*base, ("theme = ?", [t])], *flags)
                        for t in slice_themes
                    ]
            rights = [hand.among("company", companies), *theme_filter(themes)]
            scans.append(
                arm("ix_documents_client", [("client_id = ?", [client])], rights + label, fenced)
            )
            theme_ok = theme_ok and slice_themes is not None
            by_theme += [
                arm(
                    "ix_documents_theme",
                    [("client_id = ?", [client]), ("theme = ?", [t])],
                    [hand.among("company", companies), *label],
                    fenced,
                )
                for t in slice_themes or []
            ]
        suffix = ", filter fenced" if fenced else ""
        candidates[f"merged slices{suffix}"] = hand.union(sliced, limit)
        candidates[f"subscription scans{suffix}"] = hand.union(scans, limit)
        if theme_ok and by_theme:
            candidates[f"theme scans{suffix}"] = hand.union(by_theme, limit)
    return candidates
