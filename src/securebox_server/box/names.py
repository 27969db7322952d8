"""Readable names for what the box stores by id: a theme's translated label and a sender's
display name.

* A theme's label is a msgid of :data:`THEME_LABELS` (translated in the page's or the
  digest's language); a theme without one shows its id.
* A sender's display name is the name its API client was registered with
  (``securebox clients add-sender --sender ID --name NAME``: the ``api_clients`` row of kind
  ``sender``, the newest one when a sender was registered again); a sender without a client
  (a document published by the operator's own tools) shows its id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from sqlalchemy import Engine, select

from securebox_server.db.schema import API_CLIENTS

__all__ = ["THEME_LABELS", "sender_names", "theme_label"]

#: The labels of the usual themes (msgids: English, translated by the catalogues).
THEME_LABELS: Final[Mapping[str, str]] = {
    "statements": "Account statements",
    "notices": "Notices",
    "contracts": "Contracts",
    "registered": "Registered mail",
    "payroll": "Payroll",
    "tax": "Tax",
    "insurance": "Insurance",
}


def theme_label(gettext: Callable[[str], str], theme: str) -> str:
    """The label of ``theme`` translated by ``gettext``, else the theme's id."""
    msgid = THEME_LABELS.get(theme)
    return theme if msgid is None else gettext(msgid)


def sender_names(engine: Engine) -> dict[str, str]:
    """Each registered sender's display name, by sender id."""
    c = API_CLIENTS.c
    query = (
        select(c.sender, c.name)
        .where(c.kind == "sender", c.sender.is_not(None))
        .order_by(c.created_at)
    )
    with engine.connect() as conn:
        return {str(sender): str(name) for sender, name in conn.execute(query)}
