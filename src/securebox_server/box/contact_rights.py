"""Who may set a company's notification address (the e-Box Enterprise integration guide:
"edited by an access manager or a user"), as a pure rule over the library's visibility.

The address is told of **every** document of the company, whatever its theme, so only a user
of the subscription who may already see every document of that company may choose it: a
clause of their :class:`~securebox_auth.entitlements.visibility.VisibilityFilter` (VIEW,
which always agrees with :func:`~securebox_auth.entitlements.check.check`) on their own
subscription, naming the company, for every theme. Administrators and access managers
(rights on everything) and users with total rights on the company may; a collaborator
limited to some themes or documents may not, nor a third party (an invitation is another
subscription's clause), nor a disabled account (its filter is empty).

The verification code binds the company and the address: :func:`contact_reference` is the
reference of the library's one-time code (:meth:`~securebox_auth.shell.oob.OobService.issue`,
purpose :data:`CONTACT_PURPOSE`): single use, expiring, throttled, counted like any code.
"""

from __future__ import annotations

from typing import Final

from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.entitlements.visibility import VisibilityFilter
from securebox_auth.identity import ClientId, Siren

__all__ = [
    "CONTACT_PURPOSE",
    "contact_reference",
    "manageable",
    "may_set_contact",
]

CONTACT_PURPOSE: Final = "company_contact"


def may_set_contact(visible: VisibilityFilter, client_id: ClientId, company: Siren) -> bool:
    """Does ``visible`` (the user's VIEW filter) show every document of ``company`` in the
    user's own subscription ``client_id``?"""
    return any(
        clause.client_id == client_id and company in clause.companies and clause.themes is None
        for clause in visible.clauses
    )


def contact_reference(keys: KeyProvider, client_id: ClientId, company: Siren, address: str) -> str:
    """The code's reference: a keyed digest (the current key of ``keys``, its id first) of
    the subscription, the company and the address (lower-cased), so a code sent for one
    address and company confirms no other."""
    text = f"securebox/box/contact/v1\x00{client_id.value}\x00{company.value}\x00"
    digest = keys.mac(keys.current_key_id, (text + address.strip().lower()).encode())
    return f"{keys.current_key_id}.{digest.hex()[:40]}"


def manageable(visible: VisibilityFilter, client_id: ClientId) -> frozenset[Siren]:
    """The companies of ``visible`` whose notification address its user may set."""
    return frozenset(s for s in visible.companies if may_set_contact(visible, client_id, s))
