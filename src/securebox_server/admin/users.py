"""The administration pages of users: list, add, edit, delete, new code, unblock, and the
subscription's paper or digital delivery (ADR 0038).

Every user of a subscription sees the list (the library's ``list_users``); each change is a
step-up draft (:mod:`.changes`), checked first by the library's rules and applied after the
proof by its entitlement service. Who may do what is never decided here: the pages only
offer what the library's checks allow.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from securebox_auth.entitlements.accounts import Role
from securebox_auth.entitlements.delegation import Delegated
from securebox_auth.entitlements.model import GRANTABLE_OPERATIONS, Operation, Rights
from securebox_auth.errors import MalformedInput, NotFound, NotPermitted, SecureboxError
from securebox_auth.identity import Principal
from securebox_server import i18n
from securebox_server.admin.changes import (
    add_draft,
    code_draft,
    edit_draft,
    may_add,
    remove_draft,
    unblock_draft,
)
from securebox_server.admin.codes import CodeChannel
from securebox_server.admin.common import go, may, state_of
from securebox_server.admin.directory import Row, documents_of, rows_of
from securebox_server.admin.forms import (
    CIVILITIES,
    MAX_CHOSEN,
    N_,
    FormError,
    profile_of,
    rights_of,
)
from securebox_server.admin.profiles import Profile
from securebox_server.stepup.requests import ASSIGNABLE_ROLES
from securebox_server.web.context import server_of
from securebox_server.web.errors import GENERIC, MESSAGES
from securebox_server.web.pages import language, render
from securebox_server.web.routing import LoggedIn, SecureRoute, WebSession

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)


class UserForm(BaseModel):
    """The fields of the user form (the profile; the role and rights when given)."""

    civility: str = Field("", max_length=8)
    last_name: str = Field("", max_length=254)
    first_name: str = Field("", max_length=254)
    mobile: str = Field("", max_length=30)
    phone: str = Field("", max_length=30)
    email: str = Field("", max_length=254)
    function: str = Field("", max_length=254)
    role: str = Field("", max_length=20)
    companies: str = Field("", max_length=10)
    chosen: list[str] = Field(default_factory=list, max_length=MAX_CHOSEN)
    documents: str = Field("", max_length=10)
    themes: list[str] = Field(default_factory=list, max_length=MAX_CHOSEN)
    document_ids: list[str] = Field(default_factory=list, max_length=MAX_CHOSEN)
    operations: list[str] = Field(default_factory=list, max_length=MAX_CHOSEN)

    def profile(self) -> Profile:
        return profile_of(
            civility=self.civility,
            last_name=self.last_name,
            first_name=self.first_name,
            mobile=self.mobile,
            phone=self.phone,
            email=self.email,
            function=self.function,
        )

    def role_of(self) -> Role:
        if self.role not in {r.value for r in ASSIGNABLE_ROLES}:
            raise FormError(N_("Role"), N_("unknown role"))
        return Role(self.role)

    def rights(self) -> Rights:
        return rights_of(
            companies=self.companies,
            chosen=self.chosen,
            documents=self.documents,
            themes=self.themes,
            document_ids=self.document_ids,
            operations=self.operations,
        )


class NewUserForm(UserForm):
    user_number: str = Field("", max_length=8)
    channel: str = Field("", max_length=10)


def _rows(request: Request, web: WebSession) -> list[Row]:
    if not may(request, web, Operation.LIST_USERS):
        raise NotPermitted("not a user of this subscription")
    box = server_of(request).box
    return rows_of(box, state_of(request).profiles, web.session.principal.client_id)


def _row(request: Request, web: WebSession, user: str) -> Row:
    """A user of the actor's subscription; any other answer is "not found"."""
    for row in _rows(request, web):
        if row.account.principal.user_number.value == user and row.account.active:
            return row
    raise NotFound("no such user")


def _form_values(request: Request, web: WebSession) -> dict[str, object]:
    box = server_of(request).box
    client = web.session.principal.client_id
    sub = box.store.get_subscription(client)
    docs = documents_of(state_of(request).profiles.engine, client, box.now())
    return {
        "companies": sorted(sub.value.companies.values(), key=lambda c: c.siren.value)
        if sub
        else [],
        "themes": sorted(t.name for t in sub.value.themes) if sub else [],
        "documents": docs,
        "operations": sorted(op.value for op in GRANTABLE_OPERATIONS),
        "roles": ASSIGNABLE_ROLES,
        "civilities": CIVILITIES,
        "channels": state_of(request).courier.channels(),
        # a new user's first login completes with a code sent to the registered mobile or
        # e-mail only when the policy accepts such codes at login (docs/administration.md)
        "first_access_by_message": bool({"sms_otp", "email_otp"} & set(box.policy.login.methods)),
    }


@router.get("/admin/users")
def users(request: Request, web: LoggedIn) -> Response:
    rows = _rows(request, web)
    me = web.session.principal
    mine = next(r for r in rows if r.account.principal == me)
    return render(
        request,
        "admin/users.html",
        rows=rows,
        me=me,
        mine=mine,
        may_add=may_add(server_of(request).box, me),
        may_paper=may(request, web, Operation.SWITCH_TO_PAPER),
    )


def _said(request: Request, error: SecureboxError) -> str:
    """The form's error in the page's language: a :class:`FormError` translated, any
    other error by its code's fixed sentence (never the library's English text)."""
    gettext = i18n.translations(language(request)).gettext
    if isinstance(error, FormError):
        return error.translated(gettext)
    return gettext(MESSAGES.get(error.code, GENERIC))


def _user_form(request: Request, web: WebSession, status: int = 200, **values: object) -> Response:
    return render(
        request, "admin/user_form.html", status=status, **_form_values(request, web), **values
    )


def _adding(request: Request, web: WebSession) -> None:
    _rows(request, web)
    if not may_add(server_of(request).box, web.session.principal):
        raise NotPermitted("this user does not add users")


@router.get("/admin/users/new")
def new_user(request: Request, web: LoggedIn) -> Response:
    _adding(request, web)
    return _user_form(request, web, row=None, error=None, own=False, rights_form=True)


@router.post("/admin/users/new")
def add_user(request: Request, web: LoggedIn, form: Annotated[NewUserForm, Form()]) -> Response:
    _adding(request, web)
    try:
        who = Principal.parse(web.session.principal.client_id.value, form.user_number.strip())
        way = CodeChannel(form.channel) if form.channel in set(CodeChannel) else None
        if way is None or way not in state_of(request).courier.channels():
            by = N_("The new code goes to the user by")
            raise FormError(by, N_("choose one of the ways offered"))
        draft = add_draft(who, form.role_of(), form.rights(), form.profile(), way)
    except SecureboxError as exc:
        return _user_form(
            request,
            web,
            status=400,
            row=None,
            error=_said(request, exc),
            own=False,
            rights_form=True,
        )
    return go(request, web, draft)


@router.get("/admin/users/{user}")
def user_sheet(request: Request, web: LoggedIn, user: str) -> Response:
    row = _row(request, web, user)
    own = row.account.principal == web.session.principal
    manage = not own and may(request, web, Operation.MANAGE_USERS, row.account.principal)
    box = server_of(request).box
    rights_form = manage and box.entitlements.delegation_allows(
        web.session.principal, Delegated.RIGHTS
    )
    codes = (
        manage
        and row.account.active  # a removed user is sent no code: add them again
        and box.entitlements.delegation_allows(web.session.principal, Delegated.CODES)
    )
    if not (own or manage):
        return render(request, "admin/user_sheet.html", row=row)
    return _user_form(
        request,
        web,
        row=row,
        error=None,
        own=own,
        rights_form=rights_form,
        codes=codes,
        manage=manage,
    )


@router.post("/admin/users/{user}")
def edit_user(
    request: Request, web: LoggedIn, user: str, form: Annotated[UserForm, Form()]
) -> Response:
    row = _row(request, web, user)
    target = row.account.principal
    try:
        if form.role:
            draft = edit_draft(target, form.profile(), form.role_of(), form.rights())
        else:
            draft = edit_draft(target, form.profile(), None, None)
    except SecureboxError as exc:
        own = target == web.session.principal
        return _user_form(
            request,
            web,
            status=400,
            row=row,
            error=_said(request, exc),
            own=own,
            rights_form=bool(form.role),
            codes=False,
            manage=not own,
        )
    return go(request, web, draft)


@router.get("/admin/users/{user}/delete")
def confirm_delete(request: Request, web: LoggedIn, user: str) -> Response:
    row = _row(request, web, user)
    if not may(request, web, Operation.MANAGE_USERS, row.account.principal):
        raise NotPermitted("this user may not remove that user")
    return render(request, "admin/user_delete.html", row=row)


@router.post("/admin/users/{user}/delete")
def delete_user(request: Request, web: LoggedIn, user: str) -> Response:
    row = _row(request, web, user)
    return go(request, web, remove_draft(row.account.principal))


@router.post("/admin/users/{user}/code")
def new_code(
    request: Request, web: LoggedIn, user: str, channel: Annotated[str, Form(max_length=10)] = ""
) -> Response:
    row = _row(request, web, user)
    if (
        channel not in set(CodeChannel)
        or CodeChannel(channel) not in state_of(request).courier.channels()
    ):
        raise MalformedInput("choose how the new code goes to the user")
    return go(request, web, code_draft(row.account.principal, CodeChannel(channel)))


@router.post("/admin/users/{user}/unblock")
def unblock(request: Request, web: LoggedIn, user: str) -> Response:
    row = _row(request, web, user)
    return go(request, web, unblock_draft(row.account.principal))
