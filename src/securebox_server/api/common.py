"""What the API's routes share: its state on the app (the flow sealer), authentication by
bearer token or session cookie, problem documents with extra members, and the translation
of a JSON answer into the library's :data:`~securebox_auth.shell.answers.Answer`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Final

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from securebox_auth.emv.profiles import CapMode
from securebox_auth.errors import FlowExpired, MalformedInput, NotAuthenticated
from securebox_auth.factors.oob import Channel
from securebox_auth.policy.session import Session, session_claims
from securebox_auth.shell.answers import (
    Answer,
    CapAnswer,
    CertificateAnswer,
    CodeAnswer,
    OobAnswer,
    PasskeyAnswer,
    RecoveryAnswer,
    TotpAnswer,
)
from securebox_auth.shell.keys import DerivedKeys
from securebox_server.api.keys import FlowSealer
from securebox_server.api.models import AnswerBody, FlowOut, Problem, SessionOut, StepUpOut
from securebox_server.web.context import server_of
from securebox_server.web.errors import MESSAGES
from securebox_server.web.local_reads import loop_first
from securebox_server.web.problem_codes import check_code
from securebox_server.web.routing import walk

__all__ = [
    "LIMIT_NAMES",
    "PREFIX",
    "PROBLEMS",
    "ApiSession",
    "Authenticated",
    "FlowGone",
    "api_problem",
    "deliver",
    "fields_of",
    "gone",
    "install",
    "sealer",
    "to_answer",
]

PREFIX: Final = "/api/v1"

#: The rate-limit names the API hits (keys ``ip:<address>`` and ``account:<client>:<user>``),
#: besides the login pages' ``login.identify``, ``login.code`` and ``login.totp``.
LIMIT_NAMES: Final = (
    "login.answer",
    "login.challenge",
    "step_up.start",
    "step_up.challenge",
    "step_up.answer",
    "api.operation",
    "api.assertion",
)

#: Sentences of the API's own codes (the shared table covers the others).
TITLES: Final = {
    "insufficient_user_authentication": "A step-up is needed for this operation.",
    "login_blocked": "Access is blocked for now. Please try again later.",
    "login_denied": "The login could not be completed. Please start again.",
    "operation_denied": "This operation is not allowed.",
    "flow_expired": "This flow took too long or is no longer valid. Please start again.",
}

_PROBLEM: Final = {
    "model": Problem,  # registers the schema; the media type is RFC 9457's
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
#: The error answers every API route may give (for the OpenAPI document).
PROBLEMS: Final[dict[int | str, dict[str, Any]]] = {
    400: {**_PROBLEM, "description": "Malformed request"},
    401: {**_PROBLEM, "description": "Not authenticated, or a step-up is needed"},
    403: {**_PROBLEM, "description": "Refused (Origin, policy or lockout)"},
    404: {**_PROBLEM, "description": "No such resource"},
    409: {**_PROBLEM, "description": "Not expected in the flow's state"},
    410: {**_PROBLEM, "description": "The flow expired, ended or never existed"},
    429: {**_PROBLEM, "description": "Too many attempts (Retry-After)"},
}


class FlowGone(FlowExpired):
    """A flow id that names no live flow: finished, expired, tampered with, or never issued
    (one answer for all, so an id tells nothing)."""

    status_hint: ClassVar[int] = 410


@contextmanager
def gone() -> Iterator[None]:
    """Inside the API, an expired or unknown flow is 410 Gone."""
    try:
        yield
    except FlowGone:
        raise
    except FlowExpired:
        raise FlowGone("no such flow: start again") from None


def api_problem(
    request: Request, status: int, code: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    check_code(code)
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": TITLES.get(code) or MESSAGES.get(code, "The request could not be completed."),
        "status": status,
        "code": code,
        "instance": request.url.path,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


@dataclass(frozen=True, slots=True)
class ApiState:
    sealer: FlowSealer


def install(app: FastAPI, keys: DerivedKeys) -> None:
    """The API's state, and an OpenAPI document of the API alone (the HTML pages are not
    an API: they are left out of ``/api/v1/openapi.json``)."""
    app.state.api = ApiState(FlowSealer.of(keys.master))

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            routes = [r for r in walk(app.routes) if getattr(r, "path", "").startswith(PREFIX)]
            app.openapi_schema = get_openapi(
                title="securebox API",
                version="1",
                summary="Login and step-up flows, RFC 9470 challenges, assertions",
                routes=routes,
            )
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def sealer(request: Request) -> FlowSealer:
    state: ApiState = request.app.state.api
    return state.sealer


@dataclass(frozen=True, slots=True)
class ApiSession:
    """The caller's session: ``via`` says whether it came as a bearer token or a cookie."""

    session_id: str
    session: Session
    via: str


def api_session(request: Request) -> ApiSession:
    """``Authorization: Bearer <session token>``, else the session cookie; the idle timer
    restarts. Otherwise :class:`NotAuthenticated` (401 problem)."""
    server = server_of(request)
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if header and (scheme.lower() != "bearer" or not 0 < len(value.strip()) <= 256):
        raise NotAuthenticated("a Bearer session token is expected")
    if value.strip():
        session_id, via = value.strip(), "bearer"
    else:
        session_id, via = request.cookies.get(server.cookies.session, ""), "cookie"
    if not session_id:
        raise NotAuthenticated("log in first")
    return ApiSession(session_id, server.box.touch(session_id), via)


#: Dependency of the session API: :func:`api_session`, on the loop for a read on SQLite
#: (ADR 0071).
require_session = loop_first(api_session)


Authenticated = Annotated[ApiSession, Depends(require_session)]

#: The answer fields of each method (the ``fields`` of an action).
FIELDS: Final = {
    "confidential_code": ["code"],
    "totp": ["code"],
    "recovery_code": ["code"],
    "sms_otp": ["challenge_id", "code"],
    "email_otp": ["challenge_id", "code"],
    "cap_identify": ["card_id", "code"],
    "cap_respond": ["card_id", "challenge_id", "code"],
    "cap_sign": ["card_id", "challenge_id", "code", "mode"],
    "certificate": ["challenge_id", "signature"],
    "smartcard_pin": ["challenge_id", "signature"],
    "passkey_uv": ["ceremony_id", "response"],
    "code_change": ["current", "new"],
}
#: Methods answered over a challenge asked for first (``POST .../challenges``).
CHALLENGED: Final = frozenset(
    {
        "sms_otp",
        "email_otp",
        "cap_respond",
        "cap_sign",
        "certificate",
        "smartcard_pin",
        "passkey_uv",
    }
)


def deliver(
    request: Request, out: FlowOut | StepUpOut, session_id: str, *, cookie: bool
) -> Response:
    """``out`` with the session: in the session cookie (``cookie``), else its token in the
    body (an API client sends it back as ``Authorization: Bearer``)."""
    server = server_of(request)
    acr = session_claims(server.box.touch(session_id), server.box.policy.acr)[0]
    kind, token = ("cookie", None) if cookie else ("Bearer", session_id)
    out.session = SessionOut.model_validate({"token_type": kind, "token": token, "acr": acr})
    response = JSONResponse(out.model_dump(mode="json", exclude_none=True))
    if cookie:
        server.cookies.set(response, server.cookies.session, session_id)
    return response


def model_json(model: BaseModel) -> Response:
    """``model`` as the JSON body of a ``200``, serialised once.

    An endpoint that returns its ``response_model``'s instance has it validated again and
    encoded twice by FastAPI (model to Python values, values validated into the model
    again, then ``json.dumps``): about 0.6 ms of CPU for a page of 20 documents. A model
    built by the endpoint is valid already; the route keeps ``response_model`` for its
    OpenAPI schema, and the body is the same JSON (by alias, no value left out)."""
    return Response(model.model_dump_json(by_alias=True), media_type="application/json")


def fields_of(method: str) -> list[str]:
    return list(FIELDS.get(method, []))


def _need(value: str | None, name: str) -> str:
    if value is None:
        raise MalformedInput(f"{name} is required for this method")
    return value


def _signature(text: str | None) -> bytes:
    value = _need(text, "signature")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise MalformedInput("signature: base64url") from None


def to_answer(body: AnswerBody) -> Answer:
    """The library's answer for ``body`` (a missing field is :class:`MalformedInput`)."""
    m = body.method
    if m == "confidential_code":
        return CodeAnswer(_need(body.code, "code"))
    if m == "totp":
        return TotpAnswer(_need(body.code, "code"))
    if m == "recovery_code":
        return RecoveryAnswer(_need(body.code, "code"))
    if m in ("sms_otp", "email_otp"):
        channel = Channel.SMS if m == "sms_otp" else Channel.EMAIL
        return OobAnswer(
            _need(body.challenge_id, "challenge_id"), _need(body.code, "code"), channel
        )
    if m in ("cap_identify", "cap_respond", "cap_sign"):
        card, code = _need(body.card_id, "card_id"), _need(body.code, "code")
        if m == "cap_identify":
            return CapAnswer(card, code, None, CapMode.IDENTIFY)
        mode = CapMode.RESPOND if m == "cap_respond" else CapMode(body.mode or "sign")
        return CapAnswer(card, code, _need(body.challenge_id, "challenge_id"), mode)
    if m in ("certificate", "smartcard_pin"):
        challenge = _need(body.challenge_id, "challenge_id")
        return CertificateAnswer(challenge, _signature(body.signature), m == "smartcard_pin")
    if m == "passkey_uv":
        if body.response is None:
            raise MalformedInput("response is required for this method")
        return PasskeyAnswer(_need(body.ceremony_id, "ceremony_id"), body.response)
    raise MalformedInput("unknown method")
