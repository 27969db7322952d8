"""A company's notification address (seed 003: the company's e-mail box also receives
the box's notifications), set by the subscription's users (ADR 0030)."""

from __future__ import annotations

import re
from typing import Final

from sqlalchemy import Connection, delete

from securebox_auth.audit import AuditEvent
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Siren
from securebox_server.box.base import StoreBase, audit_actor
from securebox_server.db.schema import BOX_COMPANY_CONTACTS

__all__ = ["CompanyContacts", "parse_email"]

_EMAIL: Final = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,189}\.[^@\s.]{2,63}")


def parse_email(value: object) -> str:
    """A notification address (stripped), else :class:`MalformedInput`."""
    if not isinstance(value, str) or not _EMAIL.fullmatch(value.strip()):
        raise MalformedInput("not an e-mail address")
    return value.strip()


class CompanyContacts(StoreBase):
    """The notification address of each company of a subscription."""

    def set_company_contact(
        self, client_id: ClientId, company: Siren, email: str | None, *, actor: str
    ) -> None:
        """Set (or, with ``None``, remove) the company's notification address; the caller
        checked that ``actor`` may (an access manager or a user of the subscription)."""
        actor = audit_actor(actor)
        if email is not None:
            email = parse_email(email)
        sub = self.store.get_subscription(client_id)
        if sub is None or company not in sub.value.companies:
            raise MalformedInput("this company is not in the subscription")
        now = self.clock.now()
        event = AuditEvent.make(
            now,
            "box.company_contact",
            actor=actor,
            subject=client_id.value,
            outcome="success",
            details={"company": company.value, "address": "set" if email else "removed"},
        )
        key = {"client_id": client_id.value, "company": company.value}

        def write(conn: Connection) -> None:
            if email is None:
                conn.execute(
                    delete(BOX_COMPANY_CONTACTS).where(
                        *(BOX_COMPANY_CONTACTS.c[k] == v for k, v in key.items())
                    )
                )
                return
            values = {"email": email, "changed_at": now, "changed_by": actor[:64]}
            stmt = self.upsert(BOX_COMPANY_CONTACTS).values(**key, **values)
            conn.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=values))

        self.store.commit([], [event], also=write)
