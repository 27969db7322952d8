"""The app uvicorn imports (``securebox_server.factory:app_from_environment``, a factory):
settings from the environment (``SECUREBOX_SETTINGS`` names the TOML file), so every
worker process builds the same app."""

from __future__ import annotations

import os

from fastapi import FastAPI

from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_server.app import create_app
from securebox_server.settings import load_settings
from securebox_server.web.context import Server
from securebox_server.web.pages import warm

__all__ = ["app_from_environment"]


def app_from_environment() -> FastAPI:
    """The app of the settings, its templates and catalogs compiled before the worker
    serves (:func:`~securebox_server.web.pages.warm`)."""
    settings = load_settings()
    fast = settings.demo and os.environ.get("SECUREBOX_DEMO_FAST") == "1"
    # `securebox demo --fast/--check` only: never outside demo mode
    app = create_app(settings, argon2=PROFILE_TESTING) if fast else create_app(settings)
    server: Server = app.state.server
    warm(server.templates)
    return app
