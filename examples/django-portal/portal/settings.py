"""Settings of the example portal.

Everything the portal needs from securebox is in ``SECUREBOX``: the policy file (every
authentication rule), the store, the master key (from which securebox derives one key per
purpose), the SMS gateway's outbox and the portal's names for the policy's operations.
Secrets come from the environment; without them (a developer's machine) they are generated
once into ``PORTAL_DATA_DIR`` (``var/`` by default), like a development ``SECRET_KEY``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PORTAL_DATA_DIR", BASE_DIR / "var"))


def _development_secret(name: str, make: str) -> str:
    """A secret kept in ``DATA_DIR`` (created once, readable by the owner only)."""
    path = DATA_DIR / name
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(make, encoding="ascii")
    return path.read_text(encoding="ascii").strip()


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _development_secret(
    "django-secret-key", secrets.token_urlsafe(50)
)
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "bank",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After Django's: checks the securebox session behind every customer's Django session.
    "bank.middleware.SecureboxSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The portal's own user model, with customers (signed in by securebox) and staff (admin).
AUTH_USER_MODEL = "bank.User"
AUTHENTICATION_BACKENDS = [
    "bank.backends.SecureboxBackend",  # customers: a session opened by securebox's login flow
    "django.contrib.auth.backends.ModelBackend",  # the portal's staff, for the admin only
]
LOGIN_URL = "bank:login"
LOGIN_REDIRECT_URL = "bank:documents"

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "portal.sqlite3",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG  # HTTPS only outside development
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en"
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SECUREBOX = {
    # Every authentication rule (login methods, 90-day renewal, lockout, step-ups).
    "POLICY": BASE_DIR / "portal" / "policy.toml",
    # securebox's own tables (flows, sessions, factors, entitlements, audit chain).
    "STORE_URL": os.environ.get("SECUREBOX_STORE_URL", f"sqlite:///{DATA_DIR / 'securebox.db'}"),
    # "id:hex" (DerivedKeys.from_hex): every purpose's key is derived from it.
    "MASTER_KEY": os.environ.get("SECUREBOX_MASTER_KEY")
    or _development_secret("securebox-master-key", f"k1:{secrets.token_hex(32)}"),
    # The SMS gateway: a securebox Gateway under "SMS_GATEWAY" (HttpSmsGateway in production);
    # without one, the demo's FileOutbox writes the messages (codes in clear) to this file.
    "SMS_OUTBOX": DATA_DIR / "sms-outbox.jsonl",
    # argon2id parameters of the confidential codes: "2026" (production) or "testing".
    "ARGON2": os.environ.get("SECUREBOX_ARGON2", "2026"),
    # The portal's names for the policy's operations (@step_up_required("payees")).
    "OPERATIONS": {"payees": "payee_management"},
}
