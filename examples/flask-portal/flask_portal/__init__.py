"""A bank's existing Flask portal, with its own SQLAlchemy tables, adopting securebox.

:func:`create_app` wires securebox in: the entry point built from the portal's policy
(``Securebox.from_policy``), Flask's session backed by securebox's session store
(:mod:`flask_portal.sessions`), and the decorators of the sensitive views
(:mod:`flask_portal.guards`).
"""

from __future__ import annotations

import logging
from typing import Final
from urllib.parse import urlsplit

from flask import Flask, Response, render_template, request
from flask.typing import ResponseReturnValue
from securebox_auth import DerivedKeys, Securebox, SecureboxError, open_sql_store
from sqlalchemy import create_engine, orm
from werkzeug.exceptions import HTTPException

from flask_portal import views
from flask_portal.models import Base
from flask_portal.portal import EXTENSION, Portal
from flask_portal.sessions import SecureboxSessionInterface
from flask_portal.settings import PortalSettings

__all__ = ["PortalSettings", "create_app"]

log = logging.getLogger(__name__)

#: Every page is the portal's own: no inline script or style, no framing.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(settings: PortalSettings) -> Flask:
    """The portal: its tables created if missing, securebox's migrated."""
    app = Flask(__name__)
    settings.instance.mkdir(parents=True, exist_ok=True)
    keys = DerivedKeys.from_hex(settings.master_key)
    store = open_sql_store(settings.securebox_url, audit_key=keys.audit_key(), migrate=True)
    box = Securebox.from_policy(
        settings.policy,
        store=store,
        keys=keys,
        clock=settings.clock,
        argon2=settings.argon2,
        cap_issuer=settings.cap_issuer,
    )
    engine = create_engine(settings.portal_url)
    Base.metadata.create_all(engine)
    database = orm.sessionmaker(engine, expire_on_commit=False)
    app.extensions[EXTENSION] = Portal(box, database, settings)
    app.session_interface = SecureboxSessionInterface(box, secure=settings.secure_cookies)
    app.register_blueprint(views.bp)
    if settings.demo:
        from flask_portal import demo  # noqa: PLC0415 - demo pages only when asked

        app.register_blueprint(demo.bp)
    app.before_request(_same_origin)
    app.after_request(_headers)
    app.register_error_handler(SecureboxError, _securebox_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


def _same_origin() -> ResponseReturnValue | None:
    """Cross-site form posts are refused (OWASP CSRF prevention: the Fetch metadata and
    Origin headers), on top of the cookies' ``SameSite=Lax``."""
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return None
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if site is not None and site not in {"same-origin", "none"}:
        return _page(403, "cross_site", "This form was sent from another site.")
    if origin is not None and urlsplit(origin).netloc != request.host:
        return _page(403, "cross_site", "This form was sent from another site.")
    return None


def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _page(status: int, code: str, message: str) -> ResponseReturnValue:
    return render_template("error.html", code=code, message=message), status


def _securebox_error(error: SecureboxError) -> ResponseReturnValue:
    """A typed refusal: its stable code, never a trace (a configuration error is the
    operator's, logged without details of the request)."""
    status = error.status_hint if 400 <= error.status_hint < 500 else 503
    if status == 503:
        log.error("securebox configuration: %s", error.code)
    return _page(status, error.code, "The request was refused.")


def _http_error(error: HTTPException) -> ResponseReturnValue:
    return _page(error.code or 500, "http", error.name)


def _unexpected(error: Exception) -> ResponseReturnValue:
    log.exception("unexpected error", exc_info=error)
    return _page(500, "internal", "Something went wrong.")
