"""The invitation links of third parties (table ``third_party_invitations``, revision s0008).

The link's token is 256 random bits (``secrets.token_urlsafe(32)``); only its SHA-256 is
stored, so a copy of the table opens nothing. A link works until ``expires_at`` (the
library's invitation lifetime) and once: :meth:`InvitationLinks.use` sets ``used_at`` with
``UPDATE ... WHERE used_at IS NULL``, so two answers racing cannot both use it. Whether the
invitation is pending, accepted, declined, revoked or expired is the library's (the
subscription's :class:`~securebox_auth.entitlements.model.Invitation`), never this table's.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_server.db.schema import THIRD_PARTY_INVITATIONS as LINKS

__all__ = ["InvitationLinks", "Link", "digest", "new_token"]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class Link:
    invitation_id: str
    client_id: ClientId
    siren: Siren
    name: str
    email: str
    invitee: Principal
    new_account: bool
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


def _link(row: Any) -> Link:
    return Link(
        row.invitation_id,
        ClientId(row.client_id),
        Siren(row.siren),
        row.name,
        row.email,
        Principal.from_key(row.invitee),
        bool(row.new_account),
        row.created_at,
        row.expires_at,
        row.used_at,
    )


class InvitationLinks:
    """The repository (SQLAlchemy Core on the server's engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, link: Link, token: str) -> None:
        row = {
            "invitation_id": link.invitation_id,
            "client_id": link.client_id.value,
            "siren": link.siren.value,
            "name": link.name,
            "email": link.email,
            "invitee": link.invitee.key,
            "new_account": link.new_account,
            "token_sha256": digest(token),
            "created_at": link.created_at,
            "expires_at": link.expires_at,
        }
        with self.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            conn.execute(LINKS.insert().values(**row))

    def by_token(self, token: str) -> Link | None:
        """The link of ``token`` (used or not), ``None`` for an unknown or absurd token."""
        if not 20 <= len(token) <= 64:
            return None
        query = LINKS.select().where(LINKS.c.token_sha256 == digest(token))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _link(row)

    def get(self, client_id: ClientId, invitation_id: str) -> Link | None:
        query = (
            LINKS.select()
            .where(LINKS.c.client_id == client_id.value)
            .where(LINKS.c.invitation_id == invitation_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _link(row)

    def of_subscription(self, client_id: ClientId) -> list[Link]:
        query = (
            LINKS.select()
            .where(LINKS.c.client_id == client_id.value)
            .order_by(LINKS.c.created_at.desc(), LINKS.c.invitation_id)
        )
        with self.engine.connect() as conn:
            return [_link(r) for r in conn.execute(query)]

    def use(self, invitation_id: str, now: datetime) -> bool:
        """Spend the link (an answer was recorded, or the invitation was revoked); ``False``
        when it was spent already."""
        update = (
            LINKS.update()
            .where(LINKS.c.invitation_id == invitation_id)
            .where(LINKS.c.used_at.is_(None))
            .values(used_at=now)
        )
        with self.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            return conn.execute(update).rowcount == 1
