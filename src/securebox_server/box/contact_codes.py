"""The code that confirms a company's new notification address, for the page and the API:
the library's one-time code (:meth:`~securebox_auth.shell.oob.OobService.issue` and
``verify``, purpose :data:`~.contact_rights.CONTACT_PURPOSE`) sent by e-mail to the new
address, its reference binding the subscription, the company and the address; and who may
manage which company (:func:`~.contact_rights.may_set_contact` over the library's VIEW
filter)."""

from __future__ import annotations

from securebox_auth.entitlements.model import Operation
from securebox_auth.errors import InvalidIdentifier, MalformedInput, SecureboxError
from securebox_auth.factors.oob import Channel
from securebox_auth.identity import Principal, Siren
from securebox_auth.shell.securebox import Securebox
from securebox_server.box.contact_rights import (
    CONTACT_PURPOSE,
    contact_reference,
    manageable,
)
from securebox_server.box.contacts import parse_email
from securebox_server.rate_limits.errors import RateLimited

__all__ = ["check_code", "managed", "managed_company", "send_code"]


def managed(box: Securebox, principal: Principal) -> frozenset[Siren]:
    """The companies whose notification address ``principal`` may set."""
    return manageable(box.entitlements.visible(principal, Operation.VIEW), principal.client_id)


def managed_company(box: Securebox, principal: Principal, siren: str) -> Siren | None:
    """``siren`` if ``principal`` may manage it, else ``None`` (unknown or not theirs)."""
    try:
        company = Siren(siren)
    except (InvalidIdentifier, MalformedInput):
        return None
    return company if company in managed(box, principal) else None


def _reference(box: Securebox, principal: Principal, company: Siren, address: str) -> str:
    return contact_reference(box.factors.oob.keys, principal.client_id, company, address)


def send_code(box: Securebox, principal: Principal, company: Siren, address: str) -> str | None:
    """Send a code to ``address`` (checked: :class:`MalformedInput`); the challenge id, or
    ``None`` when it could not be sent (no e-mail gateway, the gateway failed);
    :class:`~securebox_server.rate_limits.errors.RateLimited` when sent too soon or too often
    (429 with ``Retry-After`` on the page and the API)."""
    address = parse_email(address)
    gateway = box.gateways.get(Channel.EMAIL.value)
    if gateway is None:
        return None
    try:
        issued = box.factors.oob.issue(
            principal,
            channel=Channel.EMAIL,
            destination=address,
            purpose=CONTACT_PURPOSE,
            reference=_reference(box, principal, company, address),
            gateway=gateway,
            display=(("the notification address of", company.value),),
        )
    except SecureboxError:
        return None
    if not issued.ok and issued.retry_after is not None:  # too soon, throttled: 429, not 503
        wait = (issued.retry_after - box.clock.now()).total_seconds()
        raise RateLimited("contact.send", max(1.0, wait))
    if not issued.ok or issued.challenge is None:
        return None
    return issued.challenge.id


def check_code(
    box: Securebox,
    principal: Principal,
    company: Siren,
    address: str,
    challenge: str,
    code: str,
) -> str | None:
    """The confirmed address when ``code`` is the one sent to ``address`` for ``company``
    (the challenge is consumed; a wrong code counts like any code), else ``None``."""
    try:
        address = parse_email(address)
        result = box.factors.oob.verify(
            principal,
            challenge,
            code,
            purpose=CONTACT_PURPOSE,
            reference=_reference(box, principal, company, address),
        )
    except SecureboxError:
        return None
    return address if result.ok else None
