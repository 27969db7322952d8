"""The profile's overview page and the notification preferences: how new documents are
announced (e-mail, SMS or not at all) and the language of what is sent (the jobs worker
reads both, :mod:`securebox_server.jobs.recipients`)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import MalformedInput
from securebox_server.login.flow import see_other
from securebox_server.profile import factors
from securebox_server.profile.contacts import current
from securebox_server.profile.model import NewDocuments, parse_preferences
from securebox_server.profile.web import store_of
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)


@router.get("/profile")
def profile_page(request: Request, web: LoggedIn) -> Response:
    box = server_of(request).box
    principal = web.session.principal
    return render(
        request,
        "profile/index.html",
        user=principal,
        contacts=current(request, principal),
        totp=factors.totp_status(box, principal),
        preferences=store_of(request).preferences(principal),
        # the answers' page, when the policy lets secret questions find an identifier
        questions=box.policy.recovery.secret_questions,
    )


@router.get("/profile/preferences")
def preferences_page(request: Request, web: LoggedIn) -> Response:
    chosen = store_of(request).preferences(web.session.principal)
    saved = request.query_params.get("saved") == "1"
    choices = list(NewDocuments)
    return render(request, "profile/preferences.html", chosen=chosen, choices=choices, saved=saved)


@router.post("/profile/preferences")
def set_preferences(
    request: Request,
    web: LoggedIn,
    new_documents: str = Form(default="", max_length=8),
    language: str = Form(default="", max_length=8),
) -> Response:
    store = store_of(request)
    principal = web.session.principal
    try:
        chosen = parse_preferences(new_documents, language)
    except MalformedInput:
        return render(
            request,
            "profile/preferences.html",
            status=400,
            failed=True,
            chosen=store.preferences(principal),
            choices=list(NewDocuments),
        )
    store.set_preferences(principal, chosen, server_of(request).box.now())
    return see_other("/profile/preferences?saved=1")
