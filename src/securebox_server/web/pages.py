"""Render a page: the Jinja environment (autoescape, i18n extension) and the per-request
context every template gets (language, translations, CSRF token, accessible version)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from securebox_server import i18n
from securebox_server.box.names import theme_label
from securebox_server.box.table import table_body
from securebox_server.web import csrf
from securebox_server.web.context import server_of
from securebox_server.web.page_templates import PageTemplates, per_language

__all__ = ["build_environment", "language", "render", "warm"]

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def build_environment() -> PageTemplates:
    """The templates, compiled once per process and language (:mod:`.page_templates`):
    without ``auto_reload`` Jinja2 does not stat every template file (the page, its
    layout, its imports and includes) at each render to see whether it changed; a
    deployment restarts to change them."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        auto_reload=False,
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
    )
    environment.globals["table_body"] = table_body
    return per_language(environment)


def warm(templates: PageTemplates) -> None:
    """Compile every template and every catalog now (a server process at its start), not
    at the first request that needs each: the first pages of a new worker then cost what
    the others do (compiling took a second of CPU under load)."""
    for lang in i18n.LANGUAGES:
        i18n.translations(lang)
    for environment in templates.languages.values():
        for name in environment.list_templates(extensions=["html"]):
            environment.get_template(name)


def language(request: Request) -> str:
    names = server_of(request).cookies
    return i18n.negotiate(request.cookies.get(names.lang), request.headers.get("accept-language"))


def render(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    """The page ``template`` in the request's language, with a CSRF token bound to the
    browser (a first page sets the random "pre" cookie it is bound to)."""
    server = server_of(request)
    lang = language(request)
    fresh = csrf.ensure_binding(request)
    translated = i18n.translations(lang)
    context = {
        "lang": lang,
        "gettext": translated.gettext,
        "ngettext": translated.ngettext,
        "theme_label": lambda theme: theme_label(translated.gettext, theme),
        "csrf_token": csrf.token_for(server.csrf_key, csrf.binding(request)),
        "accessible": request.cookies.get(server.cookies.accessible) == "1",
        "demo": server.settings.demo,
        "path": request.url.path,
        "user": None,
        **values,
    }
    body = server.templates.of(lang).get_template(template).render(context)
    response = HTMLResponse(body, status_code=status)
    if fresh is not None:
        server.cookies.set(response, server.cookies.pre, fresh)
    return response
