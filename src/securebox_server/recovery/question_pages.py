"""The secret-question pages (only when the policy allows them, else 404):
``/recovery/questions`` finds an identifier, ``/recovery/questions/setup`` (logged in,
proving the confidential code again) sets the answers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from securebox_auth.errors import InvalidIdentifier, MalformedInput
from securebox_server.login.flow import hit_limits
from securebox_server.recovery.questions import QUESTIONS, enabled, find_identifier
from securebox_server.recovery.service import service_of
from securebox_server.web.errors import respond
from securebox_server.web.pages import language, render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)
_PAGE = "recovery/questions.html"
_SETUP = "recovery/questions_setup.html"


def _field(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value[:200] if isinstance(value, str) else ""


def _answers(form: object) -> dict[str, str]:
    return {q: _field(form, f"answer_{q}") for q in QUESTIONS}


@router.get("/recovery/questions")
def questions_form(request: Request) -> Response:
    if not enabled(service_of(request)):
        return respond(request, 404, "not_found")
    return render(request, _PAGE, questions=QUESTIONS, principal=None, error=None)


@router.post("/recovery/questions")
async def questions_submit(request: Request) -> Response:
    recovery = service_of(request)
    if not enabled(recovery):
        return respond(request, 404, "not_found")
    form = await request.form()
    siren = _field(form, "siren")
    hit_limits(request, "recovery.identifier", "".join(siren.split())[:32] or "-")
    try:
        _, found = find_identifier(
            recovery, siren, _field(form, "name"), _answers(form), language(request)
        )
    except (InvalidIdentifier, MalformedInput):
        found = None
    if found is None:
        return render(request, _PAGE, status=400, questions=QUESTIONS, principal=None, error=1)
    return render(request, _PAGE, questions=QUESTIONS, principal=found, error=None)


@router.get("/recovery/questions/setup")
def setup_form(request: Request, web: LoggedIn) -> Response:
    if not enabled(service_of(request)):
        return respond(request, 404, "not_found")
    return render(request, _SETUP, questions=QUESTIONS, saved=False, error=None)


@router.post("/recovery/questions/setup")
async def setup_submit(request: Request, web: LoggedIn) -> Response:
    recovery = service_of(request)
    if not enabled(recovery):
        return respond(request, 404, "not_found")
    principal = web.session.principal
    hit_limits(request, "login.code", principal.key)
    form = await request.form()
    try:
        checked = recovery.box.codes.login(
            principal.client_id.value, principal.user_number.value, _field(form, "code")
        )
    except MalformedInput:
        checked = None

    def again(error: str) -> Response:
        values = {"questions": QUESTIONS, "saved": False, "error": error}
        return render(request, _SETUP, status=400, **values)

    if checked is None or not checked.authenticated:
        return again("The confidential code is not right.")
    try:
        recovery.accounts.set_answers(principal, _field(form, "name"), _answers(form))
    except MalformedInput as exc:
        return again(str(exc))
    return render(request, _SETUP, questions=QUESTIONS, saved=True, error=None)
