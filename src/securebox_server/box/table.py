"""The lines of a documents table (``box/_list.html``), made in Python once per page.

Each line's texts are computed here (the issue date, the theme's label, the sender's name,
the read status: through Jinja2 they were about half of a home page's CPU in its profile),
and its HTML too: every text but the ISO date is escaped with :func:`html.escape` (the same
five characters as Jinja2's autoescape: ``& < > " '``) and the page's lines become one
:class:`~markupsafe.Markup`. Through the template each of a line's seven outputs became a
new ``Markup`` object in Python, about a quarter of the template's time (ADR 0071).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from html import escape
from typing import NamedTuple, Protocol

from markupsafe import Markup

from securebox_server.box.search import Listed

__all__ = ["TableRow", "table_body", "table_rows"]


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
            item.ref.issued_at.date().isoformat(),
            item.ref.document_id,
            item.ref.label,
            theme_label(item.ref.theme.name),
            item.ref.company.value,
            sender_names.get(item.row.sender, item.row.sender),
            item.read,
        )
        for item in rows
    ]


def table_body(
    rows: Iterable[Listed[_Sent]],
    theme_label: Callable[[str], str],
    sender_names: Mapping[str, str],
    read_label: str,
    unread_label: str,
) -> Markup:
    """The ``<tr>`` lines of ``rows``, every text escaped: a link to each document, its
    label as the line's header cell, and ``read_label`` or ``unread_label``."""
    read, unread = escape(read_label), escape(unread_label)
    # Every text is escaped here but the date (date.isoformat: digits and hyphens).
    return Markup(  # noqa: S704
        "".join(
            f'<tr><td><time datetime="{line.date}">{line.date}</time></td>'
            f'<th scope="row"><a href="/documents/{escape(line.id)}">{escape(line.label)}</a>'
            f"</th><td>{escape(line.theme)}</td><td>{escape(line.company)}</td>"
            f"<td>{escape(line.sender)}</td><td>{read if line.read else unread}</td></tr>\n"
            for line in table_rows(rows, theme_label, sender_names)
        )
    )
