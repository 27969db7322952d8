"""What the box forgets of a user an administrator removes, in the library's commit of the
removal (ADR 0069): their visits ("new since your last visit"), the notifications waiting
for them (dropped: nobody is told for a removed user), and the addresses and notes of the
documents they shared (their waiting shares dropped, as the sender would at sending time).
The read receipts stay: they are the senders' evidence that a document reached the box."""

from __future__ import annotations

from typing import Final

from sqlalchemy import Connection, delete, update

from securebox_auth.identity import Principal
from securebox_server.box.shares import SHARE
from securebox_server.db.schema import BOX_NOTIFICATIONS, BOX_VISITS

__all__ = ["forget_reader"]

_N: Final = BOX_NOTIFICATIONS


def forget_reader(conn: Connection, principal: Principal) -> None:
    """Forget ``principal`` as a reader of the box, on ``conn``."""
    client, number = principal.client_id.value, principal.user_number.value
    conn.execute(
        delete(BOX_VISITS).where(
            BOX_VISITS.c.client_id == client, BOX_VISITS.c.user_number == number
        )
    )
    theirs = (_N.c.client_id == client, _N.c.user_number == number)
    conn.execute(
        update(_N)
        .where(*theirs, _N.c.status == "pending")
        .values(status="dropped", last_error="user removed")
    )
    conn.execute(update(_N).where(*theirs, _N.c.kind == SHARE).values(address=None, note=None))
