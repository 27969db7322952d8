"""Wiring of the invitations into the app."""

from __future__ import annotations

from fastapi import FastAPI

from securebox_server.admin import company_changes
from securebox_server.invitations.links import InvitationLinks
from securebox_server.invitations.service import Invitations
from securebox_server.settings import Settings

__all__ = ["install"]


def install(app: FastAPI, settings: Settings) -> None:
    links = InvitationLinks(app.state.orders.engine)  # the server's engine (stepup.install)
    app.state.invitations = Invitations(app.state.server.box, links, settings.public_url)
    app.state.changes = {**getattr(app.state, "changes", {}), **company_changes.CHANGES}
