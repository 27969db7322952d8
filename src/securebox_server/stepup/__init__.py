"""Step-up pages for the five sensitive operations of the bank's guide (ADR 0024).

Entitlements management, payees, cheque-book orders, SEPA instant transfers and payment
batches. Each goes the same way, every rule being the library's:

1. a form (:mod:`.enter`, :mod:`.admin`) checks the input (IBANs with python-stdnum,
   amounts in minor units) into a :class:`~.requests.Draft`; ``Securebox.start_step_up``
   asks the policy about the operation's :class:`~securebox_auth.policy.linking.
   OperationRequest`, and the draft is stored ``pending`` with the flow's handle
   (:mod:`.orders`);
2. the approval page (:mod:`.approve`) shows what is being approved (amount, payee, batch
   total and payees: the challenge's ``display``, RTS art. 5(1)(a)) and the methods the
   policy allows; each proof page answers ``Securebox.prove_step_up``; once enough is
   proved the library issues the grant and rotates the session id, which the browser's
   cookie follows;
3. "confirm" rebuilds the request from the stored draft, refuses it unless it equals the
   flow's request (same dynamic-linking digest), then ``Securebox.execute`` consumes the
   grant; only an executed flow marks the order done (at most once).

:func:`install` adds the routes and the order book to an app.
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from securebox_auth.stores.sql.engine import create_engine
from securebox_server.db import migrate
from securebox_server.settings import Settings
from securebox_server.stepup import admin, approve, enter
from securebox_server.stepup.labels import GLOBALS
from securebox_server.stepup.orders import OrderBook
from securebox_server.web import metrics

__all__ = ["install"]


def _migrated(engine: Engine) -> None:
    """Bring the server's tables to the head revision; workers starting together may race:
    the loser's failure is fine when the winner got there."""
    if migrate.current(engine) == migrate.head():
        return
    try:
        migrate.upgrade(engine)
    except SQLAlchemyError:
        if migrate.current(engine) != migrate.head():
            raise


def install(app: FastAPI, settings: Settings) -> None:
    """After ``app.state.server`` is set: migrate the server's tables, keep an
    :class:`OrderBook` on ``app.state.orders`` and include the step-up routes."""
    engine = create_engine(settings.database_url)
    _migrated(engine)
    metrics.watch_pool("orders", engine)
    app.state.orders = OrderBook(engine)
    app.state.server.templates.globals.update(GLOBALS)
    for router in (enter.router, approve.router, admin.router):
        app.include_router(router)
