"""The demo's orders and payees in the server's own tables (no money moves).

An order is written ``pending`` when the user enters it, with the library's step-up handle
and the JSON of what is shown for approval; it becomes ``done`` only by :meth:`OrderBook.
finish`, which the server calls after the library consumed the grant, and at most once
(``UPDATE ... WHERE status = 'pending'``). Every read is scoped to the principal: an order of
another user is "not found", like one that does not exist.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from securebox_auth.errors import NotFound
from securebox_auth.identity import Principal
from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_server.db.schema import STEPUP_ORDERS as ORDERS
from securebox_server.db.schema import STEPUP_PAYEES as PAYEES
from securebox_server.stepup.requests import Draft, Kind

__all__ = ["Order", "OrderBook", "SavedPayee", "forget_orders"]


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    kind: Kind
    status: str
    handle: str | None
    details: dict[str, Any]
    created_at: str
    done_at: str | None

    @property
    def pending(self) -> bool:
        return self.status == "pending"


@dataclass(frozen=True, slots=True)
class SavedPayee:
    name: str
    iban: str
    created_at: str


def _order(row: Any) -> Order:
    details = json.loads(row.details)
    kind = Kind(row.kind)
    return Order(row.id, kind, row.status, row.handle, details, row.created_at, row.done_at)


class OrderBook:
    """The repository (SQLAlchemy Core on the server's engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _write(self) -> Any:
        return self.engine.execution_options(**{WRITE_OPTION: True}).begin()

    def create(self, principal: Principal, draft: Draft, handle: str, now: datetime) -> str:
        order_id = secrets.token_urlsafe(16)
        with self._write() as conn:
            conn.execute(
                ORDERS.insert().values(
                    id=order_id,
                    principal=principal.key,
                    kind=draft.kind.value,
                    status="pending",
                    handle=handle,
                    details=draft.json(),
                    created_at=now.isoformat(),
                )
            )
        return order_id

    def get(self, principal: Principal, order_id: str) -> Order:
        query = ORDERS.select().where(ORDERS.c.id == order_id[:64])
        with self.engine.connect() as conn:
            row = conn.execute(query.where(ORDERS.c.principal == principal.key)).first()
        if row is None:
            raise NotFound("no such order")
        return _order(row)

    def orders(self, principal: Principal, limit: int = 100) -> list[Order]:
        query = (
            ORDERS.select()
            .where(ORDERS.c.principal == principal.key)
            .order_by(ORDERS.c.created_at.desc(), ORDERS.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_order(row) for row in conn.execute(query)]

    def finish(
        self, principal: Principal, order: Order, now: datetime, *, consumed: bool = False
    ) -> bool:
        """Mark ``order`` done (once) and, for a payee, add it to the list. False when it
        was not pending any more. ``consumed``: the library has just consumed the order's
        grant (the one request that may execute it), so a refusal written meanwhile by a
        request that found the grant's flow gone (it was this consumption) gives way: the
        order is done, never an executed order shown refused."""
        stamp = now.isoformat()
        open_ = ("pending", "refused") if consumed else ("pending",)
        with self._write() as conn:
            done = conn.execute(
                ORDERS.update()
                .where(ORDERS.c.id == order.id)
                .where(ORDERS.c.principal == principal.key)
                .where(ORDERS.c.status.in_(open_))
                .values(status="done", done_at=stamp, handle=None)
            )
            if done.rowcount != 1:
                return False
            if order.kind is Kind.PAYEE:
                iban = str(order.details["iban"])
                conn.execute(
                    PAYEES.delete()
                    .where(PAYEES.c.principal == principal.key)
                    .where(PAYEES.c.iban == iban)
                )
                conn.execute(
                    PAYEES.insert().values(
                        id=secrets.token_urlsafe(16),
                        principal=principal.key,
                        name=str(order.details["name"]),
                        iban=iban,
                        order_id=order.id,
                        created_at=stamp,
                    )
                )
        return True

    def refuse(self, principal: Principal, order: Order, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                ORDERS.update()
                .where(ORDERS.c.id == order.id)
                .where(ORDERS.c.principal == principal.key)
                .where(ORDERS.c.status == "pending")
                .values(status="refused", done_at=now.isoformat(), handle=None)
            )

    def payees(self, principal: Principal) -> list[SavedPayee]:
        query = PAYEES.select().where(PAYEES.c.principal == principal.key).order_by(PAYEES.c.name)
        with self.engine.connect() as conn:
            return [SavedPayee(r.name, r.iban, r.created_at) for r in conn.execute(query)]


def forget_orders(conn: Connection, principal: Principal) -> None:
    """Delete ``principal``'s orders and saved payees on ``conn`` (a user's removal, in the
    library's commit: ADR 0069). The next holder of the user number adds their own payees
    with a strong authentication (RTS art. 13); the audit trail keeps each order's events."""
    conn.execute(PAYEES.delete().where(PAYEES.c.principal == principal.key))
    conn.execute(ORDERS.delete().where(ORDERS.c.principal == principal.key))
