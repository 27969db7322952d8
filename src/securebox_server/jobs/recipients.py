"""Where a digest goes, and which of its documents its recipient may still see, read at
sending time (the outbox row was written at publication; rights may have changed since).

* A user: the channel their profile prefers (:mod:`securebox_server.profile`: e-mail by
  default, SMS, or none: nothing is sent), else the other one, at a verified address (the
  library's verified out-of-band destinations, :meth:`~securebox_auth.shell.oob.OobService.
  destinations`: a destination is kept only once a code sent there came back), in the
  language of their profile (French by default); each document is checked with
  ``securebox.entitlements.check(principal, VIEW, ref)``.
* A company's notification address (rows without a user): ``box_company_contacts``.

A document that is no longer live (expired, deleted, or missing) is never announced.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Engine

from securebox_auth.entitlements.model import Operation, Theme
from securebox_auth.entitlements.resources import DocumentRef
from securebox_auth.errors import SecureboxError
from securebox_auth.factors.oob import Channel
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.shell.securebox import Securebox
from securebox_server.admin.profiles import ProfileBook
from securebox_server.box.names import sender_names
from securebox_server.box.readable import readable_at
from securebox_server.db.schema import BOX_COMPANY_CONTACTS, BOX_DOCUMENTS
from securebox_server.i18n import DEFAULT
from securebox_server.profile.model import NewDocuments
from securebox_server.profile.store import read_preferences

__all__ = ["Destination", "Recipients", "Shown"]

_D = BOX_DOCUMENTS


@dataclass(frozen=True, slots=True)
class Destination:
    channel: Channel
    address: str = field(repr=False)
    language: str = DEFAULT


@dataclass(frozen=True, slots=True)
class Shown:
    """A live document as a digest lists it."""

    id: str
    ref: DocumentRef
    valid_until: datetime | None
    sender: str = ""


class Recipients:
    """Destinations and send-time checks over the box's tables and the library."""

    def __init__(self, engine: Engine, securebox: Securebox) -> None:
        self._engine = engine
        self._box = securebox

    def destination(
        self, client_id: str, user_number: str | None, company: str
    ) -> Destination | None:
        """The user's preferred channel, else the other, in their language (nothing when
        they chose not to be told); the company address for ``None``."""
        if user_number is None:
            with self._engine.connect() as conn:
                email = conn.execute(
                    sa.select(BOX_COMPANY_CONTACTS.c.email).where(
                        BOX_COMPANY_CONTACTS.c.client_id == client_id,
                        BOX_COMPANY_CONTACTS.c.company == company,
                    )
                ).scalar()
            return Destination(Channel.EMAIL, str(email)) if email else None
        principal = self.principal(client_id, user_number)
        if principal is None:
            return None
        with self._engine.connect() as conn:
            chosen = read_preferences(conn, client_id, user_number)
        if chosen.new_documents is NewDocuments.NONE:
            return None
        order = (Channel.EMAIL, Channel.SMS)
        if chosen.new_documents is NewDocuments.SMS:
            order = (Channel.SMS, Channel.EMAIL)
        found = self._box.factors.oob.destinations(principal)
        for channel in order:
            for known in found:
                if known.channel is channel:
                    return Destination(channel, known.destination, chosen.language)
        return None

    @staticmethod
    def principal(client_id: str, user_number: str) -> Principal | None:
        try:
            return Principal.parse(client_id, user_number)
        except SecureboxError:
            return None

    def live(self, document_ids: Collection[str], now: datetime) -> dict[str, Shown]:
        """The documents among ``document_ids`` that a reader can open at ``now``: live and
        still valid (one past its validity is out of every list before the expiry job marks
        it expired; no message announces it)."""
        if not document_ids:
            return {}
        query = sa.select(
            _D.c.id,
            _D.c.client_id,
            _D.c.company,
            _D.c.theme,
            _D.c.label,
            _D.c.issued_at,
            _D.c.valid_until,
            _D.c.sender,
        ).where(_D.c.id.in_(sorted(document_ids)), readable_at(now))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        found: dict[str, Shown] = {}
        for id_, client, company, theme, label, issued, until, sender in rows:
            ref = DocumentRef(ClientId(client), Siren(company), Theme(theme), id_, label, issued)
            found[id_] = Shown(id_, ref, until, sender)
        return found

    def sender_names(self) -> dict[str, str]:
        """The senders' display names (their API clients' registered names)."""
        return sender_names(self._engine)

    def may_view(self, principal: Principal, shown: Shown) -> bool:
        """Is ``principal`` entitled to see the document now?"""
        return self._box.entitlements.check(principal, Operation.VIEW, shown.ref).allowed

    def may_share(self, principal: Principal, shown: Shown) -> bool:
        """Is ``principal`` entitled to share the document now (and active)?"""
        return self._box.entitlements.check(principal, Operation.SHARE, shown.ref).allowed

    def sharer(self, principal: Principal) -> tuple[str, str | None]:
        """How a share names its sharer (their names as the bank recorded them, else their
        user number) and their professional address, for ``Reply-To``."""
        profile = ProfileBook(self._engine).get(principal)
        if profile is None:
            return principal.user_number.value, None
        name = " ".join(f"{profile.first_name} {profile.last_name}".split())
        return name or principal.user_number.value, profile.email or None
