"""The portal's objects for a request: securebox's entry point and the portal's database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from flask import current_app, session
from securebox_auth import Principal, Securebox
from sqlalchemy import orm

from flask_portal.models import customer_of
from flask_portal.sessions import PortalSession
from flask_portal.settings import PortalSettings

__all__ = ["DECOY_CARD", "Portal", "card_for", "current_portal", "current_session"]

EXTENSION: Final = "flask_portal"
#: The card id a CAP code is checked against when the identifier names no customer with a
#: card: never bound, so its codes fail like a wrong card's (the same pages for everyone).
DECOY_CARD: Final = "no-card"


@dataclass(frozen=True, slots=True)
class Portal:
    box: Securebox
    database: orm.sessionmaker[orm.Session]
    settings: PortalSettings

    @contextmanager
    def db(self) -> Iterator[orm.Session]:
        """A unit of work on the portal's own tables, committed at the end."""
        with self.database.begin() as db:
            yield db


def current_portal() -> Portal:
    portal = current_app.extensions[EXTENSION]
    if not isinstance(portal, Portal):  # pragma: no cover - create_app sets it
        raise RuntimeError("the portal is not set up: use flask_portal.create_app")
    return portal


def current_session() -> PortalSession:
    if not isinstance(session, PortalSession):  # pragma: no cover - the interface's own
        raise RuntimeError("the session interface is not securebox's")
    return session


def card_for(portal: Portal, principal: Principal) -> str:
    """The CAP card the bank issued to ``principal``, as the portal's table records it;
    :data:`DECOY_CARD` for an identifier without a customer or a card."""
    with portal.db() as db:
        customer = customer_of(db, principal)
        if customer is None or customer.cap_card_id is None:
            return DECOY_CARD
        return customer.cap_card_id
