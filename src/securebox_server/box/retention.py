"""The two clocks of a document, as pure functions (ADR 0030).

* **Validity** (the sender's, per document type): how long the document stays in the box,
  counted from its publication; a warning ``warning_days`` before it ends. When it ends the
  document leaves the box: it is deleted, unless its retention still runs.
* **Retention** (the law's, per retention class): how long the document must be kept,
  counted in calendar years from the document's date; a **legal hold** keeps it past any
  date until it is lifted.

:func:`deletion` is the one decision on deleting a document; every deletion path (a
sender's withdrawal, an administrator, the end of validity) asks it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from securebox_server.box.model import DocumentType, Status

__all__ = ["Clocks", "Deletion", "clocks", "deletion", "on_validity_end", "years_after"]


def years_after(moment: datetime, years: int) -> datetime:
    """The same date ``years`` later (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


@dataclass(frozen=True, slots=True)
class Clocks:
    valid_until: datetime | None
    warn_at: datetime | None
    retain_until: datetime


def clocks(type_: DocumentType, *, issued_at: datetime, published_at: datetime) -> Clocks:
    """A new document's clocks. No warning when it would come before the publication."""
    valid_until = warn_at = None
    if type_.validity_days is not None:
        valid_until = published_at + timedelta(days=type_.validity_days)
        if type_.warning_days:
            warn = valid_until - timedelta(days=type_.warning_days)
            warn_at = warn if warn > published_at else None
    return Clocks(valid_until, warn_at, years_after(issued_at, type_.retention_years))


class Deletion(enum.StrEnum):
    ALLOWED = "allowed"
    #: the legal retention period runs
    RETENTION = "retention"
    #: a legal hold is set
    LEGAL_HOLD = "legal_hold"
    #: already a tombstone
    DELETED = "deleted"


def deletion(
    *, status: Status, retain_until: datetime, legal_hold: bool, now: datetime
) -> Deletion:
    """May this document be deleted now? A legal hold wins over everything, then the
    retention period; validity plays no part."""
    if status is Status.DELETED:
        return Deletion.DELETED
    if legal_hold:
        return Deletion.LEGAL_HOLD
    if now < retain_until:
        return Deletion.RETENTION
    return Deletion.ALLOWED


def on_validity_end(
    *,
    status: Status,
    valid_until: datetime | None,
    retain_until: datetime,
    legal_hold: bool,
    now: datetime,
) -> Status | None:
    """What the expiry clock does to a document now: ``DELETED`` (validity over and
    deletion allowed), ``EXPIRED`` (validity over, retention or a hold keeps the body), or
    ``None`` (nothing to do)."""
    if status is Status.DELETED:
        return None
    if status is Status.LIVE and (valid_until is None or now < valid_until):
        return None
    allowed = deletion(status=status, retain_until=retain_until, legal_hold=legal_hold, now=now)
    if allowed is Deletion.ALLOWED:
        return Status.DELETED
    return Status.EXPIRED if status is Status.LIVE else None
