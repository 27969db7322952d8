"""What the bank's back office does when a business customer subscribes: a row in the
portal's own table, and the subscription in securebox, whose one-time code is handed over
(by letter) and changed at the first login."""

from __future__ import annotations

from securebox_auth import OneTimeCode, Operator, Principal, Role

from flask_portal.models import Customer, customer_of
from flask_portal.portal import Portal

__all__ = ["open_customer", "record_card"]

BACK_OFFICE = Operator("back-office")


def open_customer(portal: Portal, principal: Principal, display_name: str) -> OneTimeCode:
    """The customer's row and account; user ``01`` opens the subscription, the others are
    accounts of it. Raises ``AccountExists`` when securebox has the account already."""
    codes = portal.box.codes
    if principal.user_number.value == "01":
        one_time = codes.create_subscription(BACK_OFFICE, principal)
    else:
        one_time = codes.create_account(BACK_OFFICE, principal, Role.USER)
    with portal.db() as db:
        db.add(
            Customer(
                client_id=principal.client_id.value,
                user_number=principal.user_number.value,
                display_name=display_name,
            )
        )
    return one_time


def record_card(portal: Portal, principal: Principal, card_id: str) -> None:
    """The portal notes which CAP card the bank issued to the customer (securebox holds the
    card's binding and counters)."""
    with portal.db() as db:
        customer = customer_of(db, principal)
        if customer is None:
            raise LookupError("no such customer")
        customer.cap_card_id = card_id
