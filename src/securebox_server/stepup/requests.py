"""What the user enters, checked and turned into the library's :class:`OperationRequest`.

Pure: forms come in as text, a :class:`Draft` (the kind, the JSON details shown for approval)
or :class:`~securebox_auth.errors.MalformedInput` comes out. :func:`request_of` rebuilds the
request from a stored draft, so the order executed is compared with the flow's request (and
its dynamic-linking digest, RTS art. 5) and never taken from a later form.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import Any, Final

from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError

from securebox_auth.entitlements.accounts import Role
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Principal
from securebox_auth.policy.linking import Batch, Money, OperationRequest, Payment

__all__ = [
    "ASSIGNABLE_ROLES",
    "MAX_BATCH",
    "Draft",
    "Kind",
    "batch_draft",
    "cheque_book_draft",
    "payee_draft",
    "request_of",
    "role_draft",
    "transfer_draft",
]

MAX_BATCH: Final = 50
#: The roles the entitlements page may give (a principal user is made with the subscription,
#: a third party is invited: see :mod:`securebox_auth.shell.entitlements`).
ASSIGNABLE_ROLES: Final = (Role.ADMINISTRATOR, Role.ACCESS_MANAGER, Role.USER)
_NAME: Final = re.compile(r"[^\x00-\x1f\x7f<>]{1,70}")
_REFERENCE: Final = re.compile(r"[A-Za-z0-9/?:().,'+\- ]{0,35}")
_ACCOUNT: Final = re.compile(r"[0-9]{11}")


class Kind(enum.StrEnum):
    """An operation of the guide and the library operation whose step-up it needs."""

    PAYEE = "payee"
    CHEQUE_BOOK = "cheque_book"
    TRANSFER = "transfer"
    BATCH = "batch"
    ENTITLEMENT = "entitlement"
    COMPANY_ADD = "company_add"
    COMPANY_REMOVE = "company_remove"
    THIRD_PARTY_INVITE = "third_party_invite"
    THIRD_PARTY_REVOKE = "third_party_revoke"
    INVITATION_ACCEPT = "invitation_accept"
    INVITATION_DECLINE = "invitation_decline"
    USER_ADD = "user_add"
    USER_EDIT = "user_edit"
    USER_REMOVE = "user_remove"
    CODE_REGENERATE = "code_regenerate"
    UNBLOCK = "unblock"
    DELIVERY = "delivery"

    @property
    def operation(self) -> str:
        return _OPERATIONS[self]


_OPERATIONS: Final = {
    Kind.PAYEE: "payee_management",
    Kind.CHEQUE_BOOK: "cheque_book_order",
    Kind.TRANSFER: "sepa_instant_transfer",
    Kind.BATCH: "payment_batch_signing",
    Kind.ENTITLEMENT: "entitlements_management",
    Kind.COMPANY_ADD: "entitlements_management",
    Kind.COMPANY_REMOVE: "entitlements_management",
    Kind.THIRD_PARTY_INVITE: "entitlements_management",
    Kind.THIRD_PARTY_REVOKE: "entitlements_management",
    Kind.INVITATION_ACCEPT: "entitlements_management",
    Kind.INVITATION_DECLINE: "entitlements_management",
    Kind.USER_ADD: "entitlements_management",
    Kind.USER_EDIT: "entitlements_management",
    Kind.USER_REMOVE: "entitlements_management",
    Kind.CODE_REGENERATE: "entitlements_management",
    Kind.UNBLOCK: "entitlements_management",
    Kind.DELIVERY: "entitlements_management",
}


@dataclass(frozen=True, slots=True)
class Draft:
    kind: Kind
    details: dict[str, Any]

    def json(self) -> str:
        return json.dumps(self.details, sort_keys=True, separators=(",", ":"))


def _name(raw: str) -> str:
    text = " ".join(raw.split())
    if not _NAME.fullmatch(text):
        raise MalformedInput("a payee name is 1 to 70 characters")
    return text


def _iban(raw: str) -> str:
    """An IBAN in its compact form, checked by python-stdnum (length, layout, mod 97)."""
    try:
        return str(stdnum_iban.validate(raw[:60]))
    except ValidationError:
        raise MalformedInput("this IBAN fails its check") from None


def _amount(raw: str) -> str:
    text = "".join(raw.split()).replace("\u202f", "").replace(",", ".")  # "1 250,50"
    return f"{Money.parse(text, 'EUR').minor / 100:.2f}"


def payee_draft(name: str, iban: str) -> Draft:
    return Draft(Kind.PAYEE, {"name": _name(name), "iban": _iban(iban)})


def cheque_book_draft(account: str, books: str, delivery: str) -> Draft:
    account = account.strip()
    if not _ACCOUNT.fullmatch(account):
        raise MalformedInput("an account number is 11 digits")
    if books.strip() not in ("1", "2", "3"):
        raise MalformedInput("one to three cheque books")
    if delivery not in ("branch", "post"):
        raise MalformedInput("delivery at the branch or by post")
    return Draft(Kind.CHEQUE_BOOK, {"account": account, "books": int(books), "delivery": delivery})


def transfer_draft(amount: str, name: str, iban: str, reference: str) -> Draft:
    ref = " ".join(reference.split())
    if not _REFERENCE.fullmatch(ref):
        raise MalformedInput("a reference is at most 35 letters, digits or punctuation")
    details = {"amount": _amount(amount), "currency": "EUR", "name": _name(name)}
    details |= {"iban": _iban(iban), "reference": ref}
    return Draft(Kind.TRANSFER, details)


def batch_draft(lines: str) -> Draft:
    """One payment a line: ``IBAN;amount;name`` (a CSV export of the payments)."""
    payments = []
    for raw in lines.splitlines():
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.split(";")]
        if len(parts) != 3:
            raise MalformedInput("each line is IBAN;amount;name")
        iban, amount, name = parts
        payments.append({"iban": _iban(iban), "amount": _amount(amount), "name": _name(name)})
        if len(payments) > MAX_BATCH:
            raise MalformedInput(f"a batch holds at most {MAX_BATCH} payments")
    if not payments:
        raise MalformedInput("a batch holds at least one payment")
    return Draft(Kind.BATCH, {"currency": "EUR", "payments": payments})


def role_draft(target: Principal, role: str) -> Draft:
    if role not in {r.value for r in ASSIGNABLE_ROLES}:
        raise MalformedInput("unknown role")
    return Draft(Kind.ENTITLEMENT, {"user": target.key, "role": role})


def _payment(line: dict[str, Any], currency: str) -> Payment:
    return Payment(Money.parse(str(line["amount"]), currency), str(line["iban"]))


def request_of(kind: Kind, details: dict[str, Any]) -> OperationRequest:
    """The library request for a stored draft (what its step-up is bound to)."""
    operation = kind.operation
    if kind is Kind.PAYEE:
        return OperationRequest(operation, payee=str(details["iban"]))
    if kind is Kind.TRANSFER:
        return OperationRequest(operation, payment=_payment(details, str(details["currency"])))
    if kind is Kind.BATCH:
        currency = str(details["currency"])
        batch = Batch.of(_payment(line, currency) for line in details["payments"])
        return OperationRequest(operation, batch=batch)
    return OperationRequest(operation)
