"""The administration forms checked into step-up drafts (pure: text in, a
:class:`~securebox_server.stepup.requests.Draft` or :class:`MalformedInput` out).

Each draft's ``facts`` are the (label, value) pairs the approval page shows: what is being
approved, in the words of the form. The company's certification secret is never part of
a draft: it is typed on the last step (the confirmation) and handed to the library, so it
is never stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from stdnum.exceptions import ValidationError
from stdnum.fr import siren as stdnum_siren

from securebox_auth.errors import InvalidIdentifier, MalformedInput
from securebox_auth.identity import Principal, Siren
from securebox_server.stepup.requests import Draft, Kind

__all__ = [
    "Declaration",
    "company_add_draft",
    "company_remove_draft",
    "declaration_of",
    "formatted",
    "invitation_draft",
    "parse_siren",
    "revoke_draft",
    "third_party_draft",
]

_NAME: Final = re.compile(r"[^\x00-\x1f\x7f<>]{1,120}")
_EMAIL: Final = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+"
)
_MOBILE: Final = re.compile(r"\+[1-9][0-9]{7,14}")
_INVITATION: Final = re.compile(r"[A-Za-z0-9_-]{8,40}")


def parse_siren(raw: str) -> Siren:
    """A SIREN as typed (spaces, dots allowed), checked by python-stdnum (9 digits, Luhn)."""
    try:
        return Siren(str(stdnum_siren.validate(raw[:20])))
    except (ValidationError, InvalidIdentifier):
        raise MalformedInput("this SIREN fails its check") from None


def formatted(siren: Siren) -> str:
    """``732 829 320``: the SIREN as printed on the insurer's letters."""
    return str(stdnum_siren.format(siren.value))


def _name(raw: str) -> str:
    text = " ".join(raw.split())
    if not _NAME.fullmatch(text):
        raise MalformedInput("a name is 1 to 120 characters")
    return text


def company_add_draft(siren: str, name: str) -> Draft:
    checked, text = parse_siren(siren), _name(name)
    facts = [["Company", text], ["SIREN", formatted(checked)]]
    return Draft(Kind.COMPANY_ADD, {"siren": checked.value, "name": text, "facts": facts})


def company_remove_draft(siren: Siren, name: str) -> Draft:
    facts = [["Company", name], ["SIREN", formatted(siren)]]
    return Draft(Kind.COMPANY_REMOVE, {"siren": siren.value, "facts": facts})


@dataclass(frozen=True, slots=True)
class Declaration:
    """A third party as declared: the firm (SIREN, name), where the invitation goes, the
    companies it may see, and either its existing account or the mobile number that
    receives the one-time code of the account opened for it."""

    siren: Siren
    name: str
    email: str
    companies: frozenset[Siren]
    invitee: Principal | None
    mobile: str | None

    def details(self) -> dict[str, Any]:
        return {
            "siren": self.siren.value,
            "name": self.name,
            "email": self.email,
            "companies": sorted(c.value for c in self.companies),
            "invitee": self.invitee.key if self.invitee else "",
            "mobile": self.mobile or "",
        }

    @classmethod
    def of(cls, details: dict[str, Any]) -> Declaration:
        invitee = str(details["invitee"])
        return cls(
            Siren(str(details["siren"])),
            str(details["name"]),
            str(details["email"]),
            frozenset(Siren(str(c)) for c in details["companies"]),
            Principal.from_key(invitee) if invitee else None,
            str(details["mobile"]) or None,
        )


def declaration_of(
    siren: str,
    name: str,
    email: str,
    companies: Iterable[str],
    *,
    client_id: str,
    user_number: str,
    mobile: str,
    portfolio: frozenset[Siren],
) -> Declaration:
    """Check the declaration form: the companies must be in ``portfolio``; either an
    existing account (client identifier and user number) or a mobile number."""
    address = email.strip()
    if len(address) > 254 or not _EMAIL.fullmatch(address):
        raise MalformedInput("an e-mail address is expected")
    chosen = frozenset(parse_siren(c) for c in companies)
    if not chosen or not chosen <= portfolio:
        raise MalformedInput("choose at least one company of the portfolio")
    invitee: Principal | None = None
    number = "".join(mobile.split())
    if client_id.strip() or user_number.strip():
        try:
            invitee = Principal.parse(client_id.strip(), user_number.strip())
        except InvalidIdentifier:
            raise MalformedInput("the third party's identifier is not valid") from None
        number = ""
    elif not _MOBILE.fullmatch(number):
        raise MalformedInput("a mobile number in international form (+33...) is expected")
    return Declaration(parse_siren(siren), _name(name), address, chosen, invitee, number or None)


def third_party_draft(declaration: Declaration) -> Draft:
    facts = [
        ["Third party", declaration.name],
        ["SIREN", formatted(declaration.siren)],
        ["E-mail address", declaration.email],
        ["Companies", ", ".join(formatted(c) for c in sorted(declaration.companies, key=str))],
    ]
    return Draft(Kind.THIRD_PARTY_INVITE, {**declaration.details(), "facts": facts})


def revoke_draft(invitation_id: str, name: str) -> Draft:
    if not _INVITATION.fullmatch(invitation_id):
        raise MalformedInput("no such invitation")
    facts = [["Third party", name]]
    return Draft(Kind.THIRD_PARTY_REVOKE, {"invitation": invitation_id, "facts": facts})


def invitation_draft(accept: bool, client_id: str, invitation_id: str, inviter: str) -> Draft:
    """The invitee's answer to an invitation of subscription ``client_id``."""
    kind = Kind.INVITATION_ACCEPT if accept else Kind.INVITATION_DECLINE
    facts = [["Invited by", inviter]]
    details = {"client": client_id, "invitation": invitation_id, "facts": facts}
    return Draft(kind, details)
