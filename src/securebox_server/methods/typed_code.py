"""A login method answered by a typed code (confidential code, TOTP): one page, one form.

:func:`typed_code_method` builds the router and the :class:`LoginMethod` of such a method:
``GET /login/<slug>`` shows ``methods/<slug>.html``, ``POST /login/<slug>`` spends one try
of the ``login.<slug>`` limit and answers the library with ``answer(code)``. A code the
library refuses to read (:class:`InvalidCode`) shows the page again with 400, nothing
verified; a wrong one with 401.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import InvalidCode
from securebox_auth.shell.answers import Answer
from securebox_server.login.flow import current_flow, hit_limits, next_step
from securebox_server.methods import LoginMethod
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import SecureRoute

__all__ = ["typed_code_method"]


def typed_code_method(
    slug: str, answer: Callable[[str], Answer], *, names: tuple[str, ...], label: str
) -> LoginMethod:
    """The page and submission of a typed-code method answering the library's ``names``."""
    router = APIRouter(route_class=SecureRoute)
    path = f"/login/{slug}"
    template = f"methods/{slug}.html"

    @router.get(path, name=f"{slug}_page")
    def page(request: Request) -> Response:
        _, flow = current_flow(request)
        return render(request, template, principal=flow.principal, rejected=False)

    @router.post(path, name=f"{slug}_answer")
    def submit(request: Request, code: str = Form(default="", max_length=64)) -> Response:
        handle, flow = current_flow(request)
        hit_limits(request, f"login.{slug}", flow.principal.key)
        try:
            result = server_of(request).box.answer_login(handle, answer(code))
        except InvalidCode:  # not digits of the right length: the same page, nothing verified
            return render(request, template, status=400, principal=flow.principal, rejected=True)
        return next_step(request, result) or render(
            request, template, status=401, principal=flow.principal, rejected=True
        )

    return LoginMethod(names=names, label=label, path=path, router=router)
