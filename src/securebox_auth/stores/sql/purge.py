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

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy import Engine

from securebox_auth.errors import MalformedInput
from securebox_auth.flows.codec import LOGIN_FLOW, STEP_UP_FLOW
from securebox_auth.stores import factor_kinds as fk
from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_auth.stores.sql.schema import FACTOR_STATES, SESSIONS

__all__ = ["ONE_TIME_KINDS", "Purged", "purge_spent", "spent"]

#: The factor kinds of consumed assertion ids and of the single-use grants spent through an
#: assertion (``shell.token_verifier.ASSERTION_JTI`` and ``ASSERTION_GRANT``): each refuses a
#: replay until its ``exp``, and is never a tombstone.
_JTI: Final = "assertion_jti"
_GRANT: Final = "assertion_grant"
_BY_EXP: Final = (_JTI, _GRANT)
ONE_TIME_KINDS: Final = (
    fk.OOB,
    fk.WEBAUTHN_CEREMONY,
    fk.CAP_CHALLENGE,
    fk.CAP_DECOY,
    fk.CERT_CHALLENGE,
    LOGIN_FLOW,
    STEP_UP_FLOW,
    _JTI,
    _GRANT,
)
_F = FACTOR_STATES
_PAGE: Final = 500


@dataclass(frozen=True, slots=True)
class Purged:
    """Rows deleted by one call."""

    sessions: int
    one_time: int


def spent(kind: str, state: str | None, now: datetime) -> bool:
    """Is this one-time row of no more use at ``now``? Unreadable documents are kept (a
    later version of the codec may know them)."""
    if kind not in ONE_TIME_KINDS:
        return False
    if state is None:
        return kind not in _BY_EXP  # a tombstone; a jti or grant row is never one (kept)
    try:
        doc = json.loads(state)
    except ValueError:
        return False
    if not isinstance(doc, dict):
        return False
    if kind in _BY_EXP:
        exp = doc.get("exp")
        return isinstance(exp, int) and not isinstance(exp, bool) and exp < now.timestamp()
    text = doc.get("expires_at")
    if not isinstance(text, str):
        return False
    try:
        expires = datetime.fromisoformat(text)
    except ValueError:
        return False
    return expires.tzinfo is not None and expires < now


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
