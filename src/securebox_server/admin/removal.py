"""What the server erases with a user an administrator removes, in the library's commit of
the removal (``EntitlementService.remove_user(..., also=forget_user)``): their profile,
preferences and pending contact changes, their step-up orders and saved payees, their box
visits, waiting notifications and the addresses they shared documents with. The library
erases their factors in the same commit; the audit trail keeps the events. Nothing of it
passes to a new person given the same user number (ADR 0069)."""

from __future__ import annotations

from sqlalchemy import Connection

from securebox_auth.identity import Principal
from securebox_server.admin.profiles import delete_profile
from securebox_server.box.leavers import forget_reader
from securebox_server.profile.store import forget_preferences
from securebox_server.stepup.orders import forget_orders

__all__ = ["forget_user"]


def forget_user(conn: Connection, principal: Principal) -> None:
    delete_profile(conn, principal)
    forget_preferences(conn, principal)
    forget_orders(conn, principal)
    forget_reader(conn, principal)
