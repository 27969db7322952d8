"""The app uvicorn imports (``securebox_server.factory:app_from_environment``, a factory):
settings from the environment (``SECUREBOX_SETTINGS`` names the TOML file), so every
worker process builds the same app."""

from __future__ import annotations

import os

from fastapi import FastAPI

from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_server.app import create_app
from securebox_server.settings import load_settings

__all__ = ["app_from_environment"]


def app_from_environment() -> FastAPI:
    settings = load_settings()
    fast = settings.demo and os.environ.get("SECUREBOX_DEMO_FAST") == "1"
    if fast:  # `securebox demo --fast/--check` only: never outside demo mode
        return create_app(settings, argon2=PROFILE_TESTING)
    return create_app(settings)
