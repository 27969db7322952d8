"""``GET /demo/outbox``: the SMS and e-mail sent to the demo users, newest first.

Demo mode only: :func:`securebox_server.app.create_app` mounts this router when the
settings are in demo mode *and* name an ``outbox`` (which :class:`~securebox_server.settings.
Settings` refuses outside demo mode), so the route does not exist in production.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from starlette.responses import Response

from securebox_auth.shell.gateways import DeliveryFailed, FileOutbox
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)
#: The most recent messages shown.
SHOWN: Final = 50


@router.get("/demo/outbox")
def outbox_page(request: Request) -> Response:
    settings = server_of(request).settings
    if not settings.demo or settings.outbox is None:  # never mounted then; belt and braces
        return render(request, "error.html", status=404, message="This page does not exist.")
    try:
        messages = FileOutbox(settings.outbox).messages()
    except (OSError, ValueError, DeliveryFailed):
        messages = []
    return render(request, "demo/outbox.html", messages=list(reversed(messages[-SHOWN:])))
