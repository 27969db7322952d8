"""Which stored documents a reader can open at an instant, as one SQL condition: live and
still valid. A document past its ``valid_until`` is out of every list as soon as that
instant passes, before the expiry job marks it expired; every query that counts, offers or
announces documents uses this condition, so none of them disagrees with the lists."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from securebox_server.box.model import Status
from securebox_server.db.schema import BOX_DOCUMENTS

__all__ = ["readable_at"]


def readable_at(now: datetime) -> ColumnElement[bool]:
    """``box_documents`` rows live and not past their validity at ``now``."""
    valid = BOX_DOCUMENTS.c.valid_until
    return sa.and_(
        BOX_DOCUMENTS.c.status == Status.LIVE.value,
        sa.or_(valid.is_(None), valid > now),
    )
