"""The lines of a documents table (``box/_list.html``), their texts made in Python once per
page: the template then only prints them, where each line called six functions through
Jinja2 (two ``strftime``, the theme's label, the sender's name, the read status: about half
of a home page's CPU in its profile)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple, Protocol

from securebox_server.box.search import Listed

__all__ = ["TableRow", "table_rows"]


class _Sent(Protocol):
    @property
    def sender(self) -> str: ...


class TableRow(NamedTuple):
    """One line: the issue date (ISO), the document's id and label, its theme's label,
    its company's SIREN, its sender's name, and whether the reader has read it."""

    date: str
    id: str
    label: str
    theme: str
    company: str
    sender: str
    read: bool


def table_rows(
    rows: Iterable[Listed[_Sent]],
    theme_label: Callable[[str], str],
    sender_names: Mapping[str, str],
) -> list[TableRow]:
    """The lines of ``rows`` (a page's :class:`Listed` values), labels in the page's
    language (``theme_label``), senders by their display names."""
    return [
        TableRow(
            item.ref.issued_at.strftime("%Y-%m-%d"),
            item.ref.document_id,
            item.ref.label,
            theme_label(item.ref.theme.name),
            item.ref.company.value,
            sender_names.get(item.row.sender, item.row.sender),
            item.read,
        )
        for item in rows
    ]
