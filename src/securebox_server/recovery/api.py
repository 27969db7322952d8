"""``/api/v1/recovery/flows``: recovery as a resource (Ory Kratos' recovery flow).

``POST /recovery/flows`` ``{"kind": "code_email" | "identifier_sms" | "code_card"}``
answers ``201`` with the flow (``id``, ``kind``, ``state`` ``awaiting_address``,
``expires_at``);
``GET /recovery/flows/{id}`` reads it; ``POST /recovery/flows/{id}/address`` gives the claim
(identifiers and e-mail; or SIREN, mobile and confidential code) and answers ``202`` with
the same body whether it matched or not; ``POST /recovery/flows/{id}/code`` with the link's
``token`` and the ``new_code`` replaces the code (``200``) or answers a problem (``410``
for a link not valid any more, ``400`` for a weak code). A card recovery's address answers
with a CAP ``challenge``; ``POST /recovery/flows/{id}/card`` with its ``challenge_id`` and
the reader's ``code`` answers ``200``: ``done`` (a one-time code went by SMS), or still
``awaiting_code`` with a fresh challenge after a wrong code. Nothing here opens a session.
"""

from __future__ import annotations

import hmac
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from securebox_auth.flows.recovery import RecoveryFlow, RecoveryKind, RecoveryState
from securebox_server.api.common import PREFIX, PROBLEMS, FlowGone, gone
from securebox_server.login.flow import SourceBudget, count_failure, hit_limits
from securebox_server.recovery.card import CardChallenge, answer_card, start_card
from securebox_server.recovery.identifier import send_identifier
from securebox_server.recovery.service import service_of
from securebox_server.web.addresses import source_of
from securebox_server.web.pages import language
from securebox_server.web.routing import SecureRoute

__all__ = ["router"]

router = APIRouter(prefix=f"{PREFIX}/recovery", route_class=SecureRoute, tags=["recovery"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartBody(_Body):
    kind: Literal["code_email", "identifier_sms", "code_card"]


class AddressBody(_Body):
    client_id: str = Field(default="", max_length=64)
    user_number: str = Field(default="", max_length=64)
    email: str = Field(default="", max_length=320)
    siren: str = Field(default="", max_length=32)
    mobile: str = Field(default="", max_length=32)
    code: str = Field(default="", max_length=64)


class CardBody(_Body):
    challenge_id: str = Field(max_length=128)
    code: str = Field(max_length=64)


class CodeBody(_Body):
    token: str = Field(max_length=100)
    new_code: str = Field(max_length=64)


class ChallengeOut(BaseModel):
    """A CAP Respond challenge: type ``digits`` into the reader, answer with its code."""

    id: str
    digits: str


class RecoveryOut(BaseModel):
    id: str
    kind: str
    state: str
    expires_at: str
    challenge: ChallengeOut | None = None


def _out(
    flow: RecoveryFlow, status: int = 200, challenge: CardChallenge | None = None
) -> JSONResponse:
    body = RecoveryOut(
        id=flow.id,
        kind=flow.kind.value,
        state=flow.state.value,
        expires_at=flow.expires_at.isoformat(),
        challenge=None
        if challenge is None
        else ChallengeOut(id=challenge.challenge_id, digits=challenge.digits),
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


@router.post("/flows", status_code=201, response_model=RecoveryOut, responses=PROBLEMS)
def start(request: Request, body: StartBody) -> JSONResponse:
    """A new recovery flow, waiting for its address (the claim is limited there)."""
    hit_limits(request, "recovery.link", source_of(request))
    return _out(service_of(request).start(RecoveryKind(body.kind)), 201)


@router.get("/flows/{flow_id}", response_model=RecoveryOut, responses=PROBLEMS)
def read(request: Request, flow_id: str) -> JSONResponse:
    hit_limits(request, "recovery.link", source_of(request))
    with gone():
        return _out(service_of(request).get(flow_id).flow)


@router.post(
    "/flows/{flow_id}/address", status_code=202, response_model=RecoveryOut, responses=PROBLEMS
)
def address(request: Request, flow_id: str, body: AddressBody) -> JSONResponse:
    """The claim; the same answer whether it matched an account or not."""
    recovery = service_of(request)
    lang = language(request)
    with gone():
        kind = recovery.get(flow_id).flow.kind
        if kind is RecoveryKind.CODE_BY_CARD:
            account = f"{body.client_id.strip()}/{body.user_number.strip()}"[:64]
            hit_limits(request, "recovery", account)
            card = start_card(recovery, body.client_id, body.user_number, flow_id)
            return _out(card.flow, 202, card)
        if kind is RecoveryKind.CODE_BY_EMAIL:
            account = f"{body.client_id.strip()}/{body.user_number.strip()}"[:64]
            hit_limits(request, "recovery", account)
            flow = recovery.request_link(
                flow_id, body.client_id, body.user_number, body.email, lang
            )
        else:
            hit_limits(request, "recovery.identifier", "".join(body.siren.split())[:32] or "-")
            flow = send_identifier(
                recovery, flow_id, body.siren, body.mobile, body.code, lang, SourceBudget(request)
            )
    return _out(flow, 202)


@router.post("/flows/{flow_id}/code", response_model=RecoveryOut, responses=PROBLEMS)
def new_code(request: Request, flow_id: str, body: CodeBody) -> JSONResponse:
    """The link's token and the new code: the code is replaced, every session ends."""
    hit_limits(request, "recovery.link", source_of(request))
    recovery = service_of(request)
    with gone():
        found = recovery.link(body.token).flow.id
        if not hmac.compare_digest(found.encode(), flow_id.encode()):
            raise FlowGone("this link is not valid any more: ask for a new one")
        return _out(recovery.use_link(body.token, body.new_code, language(request)))


@router.post("/flows/{flow_id}/card", response_model=RecoveryOut, responses=PROBLEMS)
def card_code(request: Request, flow_id: str, body: CardBody) -> JSONResponse:
    """The reader's code: ``done`` (a one-time code went by SMS), or ``awaiting_code`` with
    a fresh ``challenge`` after a wrong code; ``410`` once the flow failed."""
    recovery = service_of(request)
    with gone():
        stored = recovery.get(flow_id)
        hit_limits(request, "recovery.card", stored.principal.key if stored.principal else "-")
        flow, again = answer_card(
            recovery, flow_id, body.challenge_id, body.code, language(request)
        )
        if flow.state is not RecoveryState.DONE:
            count_failure(request)
        if again is None and flow.state is not RecoveryState.DONE:
            raise FlowGone("too many wrong codes: start again")
    return _out(flow, 200, again)
