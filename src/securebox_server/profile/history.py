"""The user's security history: their own audit events (logins, blocks, enrolments,
changes), newest first, paged, each with a readable label (a msgid, translated by the
template). Only events whose SUBJECT is the user are shown, read from their subscription's
chain (:meth:`Securebox.audit_log`): another user's events, even in the same chain, never.

Reading is linear in the subscription's chain (the library has no index by subject): fine
for the pages of one user; a busy subscription would want one (see ``docs/profile.md``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from securebox_auth.audit import SealedEvent
from securebox_auth.identity import Principal
from securebox_auth.shell.securebox import Securebox
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["LABELS", "PAGE_SIZE", "HistoryPage", "Shown", "history_of", "page_of", "router"]

router = APIRouter(route_class=SecureRoute)
PAGE_SIZE: Final = 20
MAX_PAGE: Final = 500

#: The actions shown, and their labels (msgids: ``messages.po`` has fr and en).
LABELS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "session.open": "Login",
        "login.code": "Confidential code entered",
        "login.totp": "Authenticator code entered",
        "login.passkey": "Passkey used",
        "login.recovery": "Recovery code used",
        "session.end": "Session ended",
        "session.end_all": "All sessions ended",
        "session.end_others": "Other sessions ended",
        "lockout.temporary_block": "Access temporarily blocked",
        "lockout.blocked": "Access blocked",
        "lockout.unblock": "Access unblocked",
        "code.change": "Confidential code changed",
        "code.issue": "New confidential code issued",
        "totp.enrol": "Authenticator application set up",
        "totp.confirm": "Authenticator application confirmed",
        "totp.remove": "Authenticator application removed",
        "passkey.register": "Passkey added",
        "passkey.rename": "Passkey renamed",
        "passkey.revoke": "Passkey removed",
        "certificate.enrol": "Certificate enrolled",
        "certificate.remove": "Certificate removed",
        "cap.enrol": "Card reader enrolled",
        "oob.destination.enrol": "Contact address verified",
        "profile.contact.change": "Contact details changed",
        "profile.preferences": "Notification preferences changed",
        "recovery.generate": "New recovery codes",
        "enrolment.refused": "Change refused: strong authentication needed",
        "oob.destination.register": "Contact address registered by an administrator",
    }
)


@dataclass(frozen=True, slots=True)
class Shown:
    at: datetime
    action: str
    label: str
    outcome: str


@dataclass(frozen=True, slots=True)
class HistoryPage:
    events: tuple[Shown, ...]
    page: int
    more: bool


def history_of(
    events: Iterable[SealedEvent], principal: Principal, since: datetime | None = None
) -> list[Shown]:
    """The labelled events whose subject is ``principal``, newest first (pure); with
    ``since`` (when the account was created), none before it: a person given a user number
    an earlier holder had sees nothing of that holder's history (ADR 0069)."""
    key = principal.key
    found = [
        Shown(s.event.at, s.event.action, LABELS[s.event.action], s.event.outcome)
        for s in events
        if s.event.subject == key
        and s.event.action in LABELS
        and (since is None or s.event.at >= since)
    ]
    found.reverse()  # a chain is in the order recorded
    return found


def page_of(box: Securebox, principal: Principal, page: int) -> HistoryPage:
    """Page ``page`` (1-based) of the history of ``principal``."""
    account = box.store.get_account(principal)
    since = None if account is None else account.value.created_at
    found = history_of(box.audit_log(principal.client_id.value), principal, since)
    start = (page - 1) * PAGE_SIZE
    return HistoryPage(
        tuple(found[start : start + PAGE_SIZE]), page, len(found) > start + PAGE_SIZE
    )


@router.get("/profile/history")
def history_page(
    request: Request, web: LoggedIn, page: int = Query(default=1, ge=1, le=MAX_PAGE)
) -> Response:
    shown = page_of(server_of(request).box, web.session.principal, page)
    return render(request, "profile/history.html", history=shown)
