"""Administration of a subscription's users (ADR 0038, ``docs/administration.md``): the
pages (:mod:`.users`), the JSON API (:mod:`.users_api`), the profiles (:mod:`.profiles`,
table ``admin_user_profiles``) and the courier that takes a new confidential code to the
user and never to the administrator (:mod:`.codes`).

:func:`install` is called after :func:`securebox_server.stepup.install` (the drafts go
through its order book and approval pages).
"""

from __future__ import annotations

from fastapi import FastAPI

from securebox_server.admin import paper, users, users_api
from securebox_server.admin.changes import Admin
from securebox_server.admin.codes import CodeCourier
from securebox_server.admin.profiles import ProfileBook
from securebox_server.delivery import build_gateways
from securebox_server.settings import Settings

__all__ = ["install"]


def install(app: FastAPI, settings: Settings) -> None:
    gateways = build_gateways(settings.smtp_url, settings.sms_url, settings.outbox)
    courier = CodeCourier(gateways, settings.code_letters_dir)
    app.state.admin = Admin(ProfileBook(app.state.orders.engine), courier)
    app.include_router(users.router)
    app.include_router(users_api.router)
    app.include_router(paper.router)
