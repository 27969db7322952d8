"""The user's own profile (issue 16): contact details changed through a code sent to the
new address (:mod:`.contacts`), the enrolment pages (:mod:`.enrolment`, :mod:`.passkeys`),
the change of confidential code (:mod:`.code`), the security history (:mod:`.history`),
active sessions (:mod:`.sessions`), notification preferences (:mod:`.preferences`) and the
JSON API (:mod:`.api`). See ``docs/profile.md`` and ADR 0041."""

from __future__ import annotations

from fastapi import FastAPI

from securebox_auth.shell.securebox import Securebox

__all__ = ["install"]


def install(app: FastAPI, box: Securebox) -> None:
    """Add the profile's pages and API to ``app`` (its store on ``box``'s database)."""
    from securebox_server.profile import (  # noqa: PLC0415 (the routers import the app's parts)
        api,
        code,
        contacts,
        enrolment,
        history,
        passkeys,
        preferences,
        sessions,
    )
    from securebox_server.profile.web import install_store  # noqa: PLC0415

    install_store(app, box)
    for module in (preferences, contacts, enrolment, passkeys, code, history, sessions, api):
        app.include_router(module.router)
