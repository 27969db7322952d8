"""Purge of spent rows: ended or expired sessions, and one-time values past their use.

The store keeps these rows on purpose while they matter: an ended session keeps its row so
its identifier is never accepted again, a consumed challenge is a tombstone, a consumed
assertion id (``jti``) is what refuses a replay until the assertion's ``exp``. Past that,
they are dead weight (and personal data kept for no reason). :func:`purge_spent` deletes:

* ``sessions`` whose last activity is older than ``max(keep, idle_timeout)``: every such
  session is over (idle past the policy's timeout, or ended), and its random identifier
  can no longer be guessed into use;
* ``factor_states`` rows of the one-time kinds (:data:`ONE_TIME_KINDS`: out-of-band, CAP (real and
  decoy) and certificate challenges, WebAuthn ceremonies, login and step-up flows, consumed
  assertion ids, grants spent through an assertion) that are :func:`spent` at ``now``: a
  tombstone (``state`` NULL), or a document whose ``expires_at`` (or, for an assertion id
  or a spent grant, ``exp``) has passed. A consumed assertion id or spent grant is deleted
  only after its ``exp`` (a replay is refused by the assertion's or the grant's own expiry
  from then on). Credentials, destinations, send logs and lockouts are never touched.

Each row is deleted only if its ``version`` is still the one read (a row changed in between
is left for the next pass). At most ``limit`` rows of each table go per call.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy import Engine

from securebox_auth.errors import MalformedInput
from securebox_auth.stores.spent import ONE_TIME_KINDS, Purged, spent
from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_auth.stores.sql.schema import FACTOR_STATES, SESSIONS

__all__ = ["ONE_TIME_KINDS", "Purged", "purge_spent", "spent"]

_F = FACTOR_STATES
_PAGE: Final = 500


def purge_spent(
    engine: Engine,
    *,
    now: datetime,
    idle_timeout: timedelta,
    keep: timedelta = timedelta(days=1),
    limit: int = 1000,
) -> Purged:
    """Delete spent sessions and one-time values (see the module documentation)."""
    if limit < 1 or keep < timedelta(0) or idle_timeout < timedelta(0):
        raise MalformedInput("purge: limit >= 1, keep and idle_timeout >= 0")
    writer = engine.execution_options(**{WRITE_OPTION: True})
    cutoff = now - max(keep, idle_timeout)
    with writer.begin() as conn:
        old = sa.select(SESSIONS.c.id).where(SESSIONS.c.last_activity < cutoff).limit(limit)
        ids = list(conn.execute(old).scalars())
        if ids:
            conn.execute(SESSIONS.delete().where(SESSIONS.c.id.in_(ids)))
    return Purged(len(ids), _purge_one_time(engine, writer, now, limit))


def _purge_one_time(engine: Engine, writer: Engine, now: datetime, limit: int) -> int:
    key = (_F.c.client_id, _F.c.user_number, _F.c.kind, _F.c.item)
    after: tuple[str, str, str, str] | None = None
    deleted = 0
    while deleted < limit:
        page = (
            sa.select(*key, _F.c.state, _F.c.version)
            .where(_F.c.kind.in_(ONE_TIME_KINDS))
            .order_by(*key)
            .limit(_PAGE)
        )
        if after is not None:
            page = page.where(sa.tuple_(*key) > sa.tuple_(*after))
        with engine.connect() as conn:
            rows = conn.execute(page).all()
        if not rows:
            break
        after = (rows[-1][0], rows[-1][1], rows[-1][2], rows[-1][3])
        doomed = [r for r in rows if spent(r.kind, r.state, now)][: limit - deleted]
        if doomed:
            with writer.begin() as conn:
                for r in doomed:
                    done = conn.execute(
                        _F.delete().where(
                            _F.c.client_id == r.client_id,
                            _F.c.user_number == r.user_number,
                            _F.c.kind == r.kind,
                            _F.c.item == r.item,
                            _F.c.version == r.version,
                        )
                    )
                    deleted += done.rowcount
        if len(rows) < _PAGE:
            break
    return deleted
