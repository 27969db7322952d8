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

import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Final

from sqlalchemy import Engine, select

from securebox_server.db.schema import API_CLIENTS

__all__ = ["NAMES_SECONDS", "THEME_LABELS", "forget_sender_names", "sender_names", "theme_label"]

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


#: How long the senders' names are kept by a process (a new registration shows within it).
NAMES_SECONDS: Final = 30.0
_KEPT: weakref.WeakKeyDictionary[Engine, tuple[float, dict[str, str]]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def sender_names(engine: Engine) -> dict[str, str]:
    """Each registered sender's display name, by sender id (kept :data:`NAMES_SECONDS` by
    the process: pages and digests read them on every request)."""
    now = time.monotonic()
    with _LOCK:
        kept = _KEPT.get(engine)
    if kept is not None and now - kept[0] < NAMES_SECONDS:
        return kept[1]
    names = _read_names(engine)
    with _LOCK:
        _KEPT[engine] = (now, names)
    return names


def forget_sender_names(engine: Engine) -> None:
    """Read the names again on the next call (a sender was registered by this process)."""
    with _LOCK:
        _KEPT.pop(engine, None)


def _read_names(engine: Engine) -> dict[str, str]:
    c = API_CLIENTS.c
    query = (
        select(c.sender, c.name)
        .where(c.kind == "sender", c.sender.is_not(None))
        .order_by(c.created_at)
    )
    with engine.connect() as conn:
        return {str(sender): str(name) for sender, name in conn.execute(query)}
