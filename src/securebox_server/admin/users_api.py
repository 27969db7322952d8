"""``/api/v1/admin/users``: the administration of users as JSON (RFC 9457 problems).

Each change asks the engine about ``entitlements_management`` in the caller's session
(:func:`securebox_server.api.operations.guarded`'s way): with a live step-up the change is
checked by the library's rules, the grant is consumed and the library applies it; without
one the answer is ``401`` with the RFC 9470 challenge and the step-up resource to prove.
A new confidential code goes to the user's channel (:mod:`.codes`): the answer names the
channel, never the code.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from securebox_auth.entitlements.accounts import Role
from securebox_auth.entitlements.model import Operation
from securebox_auth.entitlements.resources import SubscriptionRef
from securebox_auth.errors import MalformedInput, NotFound, NotPermitted
from securebox_auth.flows.step_up import StepUpState
from securebox_auth.identity import Principal
from securebox_auth.policy.decision import StepUpRequired
from securebox_auth.policy.linking import OperationRequest
from securebox_server.admin.changes import (
    add_draft,
    apply_order,
    code_draft,
    delivery_draft,
    edit_draft,
    precheck,
    remove_draft,
    unblock_draft,
)
from securebox_server.admin.codes import CodeChannel
from securebox_server.admin.common import state_of
from securebox_server.admin.directory import Row, rows_of
from securebox_server.admin.forms import profile_of, rights_from_json, rights_json
from securebox_server.api.common import PREFIX, PROBLEMS, ApiSession, Authenticated, api_problem
from securebox_server.api.step_up import seal
from securebox_server.login.flow import hit_limits
from securebox_server.stepup.requests import ASSIGNABLE_ROLES, Draft
from securebox_server.web.context import server_of
from securebox_server.web.routing import SecureRoute

__all__ = ["router"]

router = APIRouter(prefix=f"{PREFIX}/admin", route_class=SecureRoute, tags=["administration"])
_Role = Literal["administrator", "access_manager", "user"]


class ProfileBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    civility: Literal["mr", "mrs"]
    last_name: str = Field(max_length=100)
    first_name: str = Field(max_length=100)
    mobile: str = Field(default="", max_length=30)
    phone: str = Field(default="", max_length=30)
    email: str = Field(max_length=254)
    function: str = Field(max_length=100)


class RightsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    companies: Literal["all"] | list[str] = "all"
    documents: Literal["total"] | dict[str, list[str]] = "total"
    operations: list[str] = Field(default_factory=list, max_length=20)


class UserBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_number: str = Field(max_length=8)
    profile: ProfileBody
    role: _Role
    rights: RightsBody
    channel: Literal["sms", "email", "letter"]


class EditBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: ProfileBody
    role: _Role | None = None
    rights: RightsBody | None = None


class CodeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal["sms", "email", "letter"]


class DeliveryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    digital: bool


def _out(row: Row) -> dict[str, Any]:
    profile = row.profile
    return {
        "user": row.account.principal.key,
        "role": row.account.role.value,
        "status": row.status.value,
        "profile": None if profile is None else profile.as_dict(),
        "rights": rights_json(row.rights),
    }


def _rows(request: Request, api: ApiSession) -> list[Row]:
    actor = api.session.principal
    box = server_of(request).box
    if not box.entitlements.check(actor, Operation.LIST_USERS, SubscriptionRef(actor.client_id)):
        raise NotPermitted("not a user of this subscription")
    return rows_of(box, state_of(request).profiles, actor.client_id)


def _row(request: Request, api: ApiSession, user: str) -> Row:
    for row in _rows(request, api):
        if row.account.principal.user_number.value == user and row.account.active:
            return row
    raise NotFound("no such user")


def _profile(body: ProfileBody) -> Any:
    return profile_of(**body.model_dump())


def _guarded(request: Request, api: ApiSession, draft: Draft, status: int = 200) -> Response:
    """Check, then run ``draft`` when the session holds the step-up, else the challenge."""
    actor = api.session.principal
    hit_limits(request, "api.operation", actor.key)
    box = server_of(request).box
    precheck(box, actor, draft)
    page = box.start_step_up(api.session_id, OperationRequest(draft.kind.operation))
    if page.state is StepUpState.READY:
        done = box.execute(page.session_id, page.handle)
        if done.executed:
            note = apply_order(
                box, state_of(request), page.session_id, actor, draft.kind, draft.details
            )
            return JSONResponse({"status": note, "user": draft.details.get("user")}, status)
    decision = page.decision
    if page.state is StepUpState.CHALLENGED and isinstance(decision, StepUpRequired):
        challenge = decision.challenge
        return api_problem(
            request,
            401,
            "insufficient_user_authentication",
            headers={"WWW-Authenticate": decision.www_authenticate()},
            step_up=f"{PREFIX}/step-ups/{seal(request, page.handle)}",
            acr_values=list(challenge.acr_values),
            max_age=challenge.max_age,
        )
    return api_problem(request, 403, "operation_denied")


@router.get("/users", responses=PROBLEMS)
def list_users(request: Request, api: Authenticated) -> Response:
    return JSONResponse({"users": [_out(r) for r in _rows(request, api)]})


@router.post("/users", status_code=201, responses=PROBLEMS)
def add_user(request: Request, body: UserBody, api: Authenticated) -> Response:
    actor = api.session.principal
    who = Principal.parse(actor.client_id.value, body.user_number)
    channel = CodeChannel(body.channel)
    if channel not in state_of(request).courier.channels():
        raise MalformedInput("this channel is not configured")
    rights = rights_from_json(body.rights.model_dump())
    draft = add_draft(who, Role(body.role), rights, _profile(body.profile), channel)
    return _guarded(request, api, draft, 201)


@router.get("/users/{user}", responses=PROBLEMS)
def show_user(request: Request, user: str, api: Authenticated) -> Response:
    return JSONResponse(_out(_row(request, api, user)))


@router.patch("/users/{user}", responses=PROBLEMS)
def edit_user(request: Request, user: str, body: EditBody, api: Authenticated) -> Response:
    target = _row(request, api, user).account.principal
    if (body.role is None) != (body.rights is None):
        raise MalformedInput("role and rights go together")
    role = None if body.role is None else Role(body.role)
    rights = None if body.rights is None else rights_from_json(body.rights.model_dump())
    if role is not None and role not in ASSIGNABLE_ROLES:
        raise MalformedInput("unknown role")
    return _guarded(request, api, edit_draft(target, _profile(body.profile), role, rights))


@router.delete("/users/{user}", responses=PROBLEMS)
def delete_user(request: Request, user: str, api: Authenticated) -> Response:
    target = _row(request, api, user).account.principal
    return _guarded(request, api, remove_draft(target))


@router.post("/users/{user}/code", responses=PROBLEMS)
def new_code(request: Request, user: str, body: CodeBody, api: Authenticated) -> Response:
    target = _row(request, api, user).account.principal
    channel = CodeChannel(body.channel)
    if channel not in state_of(request).courier.channels():
        raise MalformedInput("this channel is not configured")
    return _guarded(request, api, code_draft(target, channel))


@router.post("/users/{user}/unblock", responses=PROBLEMS)
def unblock(request: Request, user: str, api: Authenticated) -> Response:
    target = _row(request, api, user).account.principal
    return _guarded(request, api, unblock_draft(target))


@router.put("/delivery", responses=PROBLEMS)
def delivery(request: Request, body: DeliveryBody, api: Authenticated) -> Response:
    return _guarded(request, api, delivery_draft(digital=body.digital))
