"""What an administrator enters about a user, checked into values (pure).

A profile (civility, names, at least one phone, e-mail, function) becomes a
:class:`~.profiles.Profile`; the rights (whole portfolio or chosen companies, total or
partial documents by themes and individual documents, operations) become the library's
:class:`~securebox_auth.entitlements.model.Rights`, and go into a step-up draft as JSON
(:func:`rights_json`, read back by :func:`rights_from_json`). Anything else raises
:class:`FormError` (a :class:`~securebox_auth.errors.MalformedInput`) naming the field by
its label: both are msgids of the server's catalogs (marked with :func:`N_` for Babel's
extraction), so a page shows them in its language (:meth:`FormError.translated`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final

from securebox_auth.entitlements.model import (
    GRANTABLE_OPERATIONS,
    NEEDS_VIEW,
    CompanyScope,
    DocumentScope,
    Operation,
    Rights,
    Theme,
    valid_document_id,
)
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Siren
from securebox_server.admin.profiles import Profile
from securebox_server.i18n import N_
from securebox_server.web.explained import Explained

__all__ = [
    "CIVILITIES",
    "N_",
    "FormError",
    "profile_of",
    "rights_from_json",
    "rights_json",
    "rights_of",
]

CIVILITIES: Final = ("mr", "mrs")
_TEXT: Final = re.compile(r"[^\x00-\x1f\x7f<>]{1,100}")
_PHONE: Final = re.compile(r"\+?[0-9]{6,15}")
_EMAIL: Final = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,185}\.[A-Za-z]{2,63}")
MAX_CHOSEN: Final = 200


class FormError(MalformedInput, Explained):
    """A form value not as expected: ``field`` is the label of the field (a msgid; empty
    for the form as a whole) and ``problem`` what is expected (a msgid, with ``%(name)s``
    placeholders filled from ``values``). ``str()`` is the English text (logs, and the
    ``detail`` of an API problem: :class:`~securebox_server.web.explained.Explained`); a
    page shows :meth:`translated`."""

    def __init__(self, field: str, problem: str, **values: object) -> None:
        self.field = field
        self.problem = problem
        self.values = {name: str(value) for name, value in values.items()}
        super().__init__(self.translated(lambda message: message))

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The message in the language of ``gettext`` (a catalog's)."""
        problem = gettext(self.problem) % self.values if self.values else gettext(self.problem)
        if not self.field:
            return problem
        label = gettext(self.field)
        return gettext("%(field)s: %(problem)s") % {"field": label, "problem": problem}


def _text(raw: str, label: str) -> str:
    text = " ".join(raw.split())
    if not _TEXT.fullmatch(text):
        raise FormError(label, N_("1 to 100 characters"))
    return text


def _phone(raw: str, label: str) -> str | None:
    compact = "".join(c for c in raw if c not in " .-()")
    if not compact:
        return None
    if not _PHONE.fullmatch(compact):
        raise FormError(label, N_("6 to 15 digits, optionally after +"))
    return compact


def profile_of(
    *,
    civility: str,
    last_name: str,
    first_name: str,
    mobile: str,
    phone: str,
    email: str,
    function: str,
) -> Profile:
    if civility not in CIVILITIES:
        raise FormError(N_("Civility"), N_("Mr or Mrs"))
    mobile_, phone_ = _phone(mobile, N_("Mobile phone")), _phone(phone, N_("Landline phone"))
    if mobile_ is None and phone_ is None:
        raise FormError("", N_("at least one phone number"))
    address = email.strip()
    if len(address) > 254 or not _EMAIL.fullmatch(address):
        raise FormError(N_("E-mail"), N_("an address such as name@company.example"))
    return Profile(
        civility,
        _text(last_name, N_("Last name")),
        _text(first_name, N_("First name")),
        mobile_,
        phone_,
        address,
        _text(function, N_("Function")),
    )


def _few(values: Iterable[str], label: str) -> list[str]:
    found = sorted({v.strip() for v in values if v.strip()})
    if len(found) > MAX_CHOSEN:
        raise FormError(label, N_("at most %(count)s choices"), count=MAX_CHOSEN)
    return found


def rights_of(
    *,
    companies: str,
    chosen: Iterable[str],
    documents: str,
    themes: Iterable[str],
    document_ids: Iterable[str],
    operations: Iterable[str],
) -> Rights:
    """The rights of the form: ``companies`` is ``all`` or ``chosen``; ``documents`` is
    ``total`` or ``partial``; operations among the grantable ones."""
    if companies == "all":
        company_scope = CompanyScope.portfolio()
    elif companies == "chosen":
        chosen_ = _few(chosen, N_("Companies"))
        company_scope = CompanyScope(chosen=frozenset(Siren(s) for s in chosen_))
    else:
        raise FormError(N_("Companies"), N_("the whole portfolio or chosen companies"))
    if documents == "total":
        document_scope = DocumentScope.all()
    elif documents == "partial":
        document_scope = DocumentScope(
            themes=frozenset(Theme(t) for t in _few(themes, N_("Documents"))),
            documents=frozenset(valid_document_id(d) for d in _few(document_ids, N_("Documents"))),
        )
    else:
        raise FormError(N_("Documents"), N_("total or partial access"))
    names = _few(operations, N_("Operations"))
    grantable = {op.value for op in GRANTABLE_OPERATIONS}
    if not set(names) <= grantable:
        raise FormError(N_("Operations"), N_("unknown operation"))
    if set(names) & {op.value for op in NEEDS_VIEW} and Operation.VIEW.value not in names:
        raise FormError(N_("Operations"), N_("download and share are granted with view"))
    return Rights(company_scope, document_scope, frozenset(Operation(n) for n in names))


def rights_json(rights: Rights) -> dict[str, Any]:
    scope = rights.companies
    docs = rights.documents
    return {
        "companies": "all" if scope.everything else sorted(s.value for s in scope.chosen),
        "documents": "total"
        if docs.total
        else {
            "themes": sorted(t.name for t in docs.themes),
            "documents": sorted(docs.documents),
        },
        "operations": sorted(op.value for op in rights.operations),
    }


def rights_from_json(data: dict[str, Any]) -> Rights:
    companies, documents = data["companies"], data["documents"]
    return rights_of(
        companies="all" if companies == "all" else "chosen",
        chosen=[] if companies == "all" else list(companies),
        documents="total" if documents == "total" else "partial",
        themes=[] if documents == "total" else list(documents["themes"]),
        document_ids=[] if documents == "total" else list(documents["documents"]),
        operations=list(data["operations"]),
    )
