"""The order tables: their own migration (s0002, up and down) and an order finished once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from securebox_auth.clock import FixedClock
from securebox_auth.errors import NotFound
from securebox_auth.identity import Principal
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.db import migrate
from securebox_server.stepup.orders import OrderBook
from securebox_server.stepup.requests import Kind, payee_draft, request_of, transfer_draft


def test_s0002_adds_and_removes_the_order_tables(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/orders.db")
    try:
        migrate.upgrade(engine)
        assert migrate.check(engine).ok
        assert {"stepup_orders", "stepup_payees"} <= set(inspect(engine).get_table_names())
        migrate.downgrade(engine, "s0001")
        assert migrate.current(engine) == "s0001"
        assert "stepup_orders" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_an_order_is_finished_once_and_only_by_its_owner(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/orders.db")
    try:
        migrate.upgrade(engine)
        book, now = OrderBook(engine), FixedClock().now()
        me, other = Principal.parse("123456789", "01"), Principal.parse("123456789", "02")
        order_id = book.create(me, payee_draft("Dupont", "FR7630006000011234567890189"), "h", now)
        with pytest.raises(NotFound):
            book.get(other, order_id)
        order = book.get(me, order_id)
        assert not book.finish(other, order, now)
        assert book.finish(me, order, now)
        assert not book.finish(me, order, now)
        assert [p.iban for p in book.payees(me)] == ["FR7630006000011234567890189"]
        assert book.payees(other) == []
    finally:
        engine.dispose()


def test_a_stored_transfer_rebuilds_the_request_it_was_approved_for() -> None:
    draft = transfer_draft("1 250,5", "Dupont", "fr76 3000 6000 0112 3456 7890 189", "ref")
    assert draft.details["amount"] == "1250.50"
    request = request_of(Kind.TRANSFER, draft.details)
    assert request.payment is not None
    assert str(request.payment.amount) == "1250.50 EUR"
    changed = request_of(Kind.TRANSFER, {**draft.details, "amount": "1250.51"})
    assert changed.payment is not None
    assert changed.payment.digest != request.payment.digest
