"""Every error becomes a 4xx page (503 for a server-side one), or an RFC 9457
``application/problem+json`` document under ``/api/``, with the error's stable ``code``;
never a 500 page or a trace.

Messages come from a fixed table keyed by code (never from the exception's text), so no
page tells whether a client or user exists. An unauthenticated HTML request is sent to the
login page; an unexpected exception is logged (with its request id) and answered 503. A
:class:`~securebox_auth.errors.SecureboxError` whose ``status_hint`` is 5xx (a gateway
that refused, a configuration or audit fault) is answered 503 ``unavailable`` with
``Retry-After`` too, without its message; a 4xx hint is the status answered.

A database that cannot be reached (stopped, restarting, a connection it closed, a pool with
no free connection in ``pool_timeout_s``) raises a driver or pool error from any route:
:data:`DATABASE_UNAVAILABLE`. It is answered here, in one place, as 503 ``unavailable``
with ``Retry-After`` (:func:`unavailable`), logged as one warning line without a trace,
and never shows the driver's message. The pool drops connections the server closed
(:mod:`securebox_auth.stores.sql.database`), so once the database is back the same
processes answer again without a restart.

A full disk (:class:`~securebox_auth.errors.StorageFull`, or an ``ENOSPC``/``SQLITE_FULL``
that reached the last net: :func:`unexpected`) is ``507 Insufficient Storage`` (RFC 4918
11.5: the server cannot store what the request needs) with code ``storage_full`` and a
``Retry-After``: the request had no effect and may be sent again, the same
``Idempotency-Key`` included, once an operator freed space. Logged as an error.
"""

from __future__ import annotations

import logging
from typing import Final

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from securebox_auth.errors import FlowError, NotAuthenticated, SecureboxError, StorageFull
from securebox_auth.stores.sql.driver_errors import is_storage_full
from securebox_server.throttle import RateLimited
from securebox_server.web.explained import Explained
from securebox_server.web.pages import render
from securebox_server.web.problem_codes import check_code

__all__ = [
    "DATABASE_UNAVAILABLE",
    "MESSAGES",
    "STORAGE_RETRY_AFTER",
    "UNAVAILABLE_RETRY_S",
    "database_unavailable",
    "install",
    "log_unavailable",
    "problem",
    "unavailable",
    "unexpected",
    "wait_of",
]

log = logging.getLogger("securebox_server.errors")

#: code -> the sentence shown (translated in the templates' catalogs).
MESSAGES: Final = {
    "not_authenticated": "Your session has ended. Please log in again.",
    "flow_expired": "This login took too long or is no longer valid. Please start again.",
    "flow_out_of_order": "This step is not expected now. Please start again.",
    "challenge_needed": "This step is not expected now. Please start again.",
    "csrf": "This form has expired. Please load the page again.",
    "rate_limited": "Too many attempts. Please try again later.",
    "invalid_identifier": "The identifier or user number is not in the expected format.",
    "invalid_code": "The code is not in the expected format.",
    "weak_code": "This code is too easy to guess. Choose another one.",
    "not_found": "This page does not exist.",
    "method_not_allowed": "This page does not accept this request.",
    "malformed_input": "The request is not valid.",
    "unavailable": "The service is temporarily unavailable. Please try again.",
    "storage_full": "The service cannot store this now. Please try again later.",
}
GENERIC: Final = "The request could not be completed."
#: Seconds a client waits before sending a request refused for a full disk again.
STORAGE_RETRY_AFTER: Final = 300

#: Errors that mean "the database cannot be reached now", not a bug: SQLAlchemy's wrappers
#: of a lost or refused connection, its pool's time-out and disconnection, and psycopg's own
#: (the stores' reads and writes use driver connections directly).
DATABASE_UNAVAILABLE: Final[tuple[type[Exception], ...]] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
#: ``Retry-After`` of a 503 ``unavailable``: a PostgreSQL restart takes a few seconds.
UNAVAILABLE_RETRY_S: Final = 5


def _status(exc: SecureboxError) -> int:
    """The error's 4xx ``status_hint``; a 5xx one (a gateway down, a server-side fault) is
    answered by :func:`_server_side` instead, and anything else is 400."""
    hint = int(getattr(exc, "status_hint", 400))
    return hint if 400 <= hint < 600 else 400


def _server_side(request: Request, exc: SecureboxError) -> Response:
    """A :class:`SecureboxError` whose ``status_hint`` is 5xx (an SMS or mail gateway
    that refused, a corrupted body, a configuration or audit fault): 503 ``unavailable``
    with ``Retry-After``, never a 500 nor the error's own message (it may name a host, a
    file or a record). Logged as one line with the error's class and stable code; a 500
    hint (a fault, not a passing outage) as an error."""
    hint = _status(exc)
    request_id = getattr(request.state, "request_id", "")
    level = logging.ERROR if hint == 500 else logging.WARNING
    log.log(
        level,
        "server-side error %s (%s), answered 503",
        type(exc).__name__,
        exc.code,
        extra={"request_id": request_id},
    )
    return unavailable(request)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def problem(status: int, code: str, instance: str = "", **extra: object) -> JSONResponse:
    check_code(code)
    body: dict[str, object] = {
        "type": f"/problems/{code}",
        "title": MESSAGES.get(code, GENERIC),
        "status": status,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def respond(request: Request, status: int, code: str) -> Response:
    check_code(code)
    if _is_api(request):
        return problem(status, code, request.url.path)
    if code == "not_authenticated" and request.method == "GET":
        return RedirectResponse("/login", status_code=303)
    restart = code in ("flow_expired", "flow_out_of_order", "challenge_needed", "not_authenticated")
    return render(
        request,
        "error.html",
        status=status,
        message=MESSAGES.get(code, GENERIC),
        code=code,
        restart=restart,
    )


def unavailable(request: Request) -> Response:
    """503 ``unavailable`` (the error page, or a problem document under ``/api/``) with
    ``Retry-After``: the answer to a database that cannot be reached, and the last net's."""
    response = respond(request, 503, "unavailable")
    response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_S)
    return response


def log_unavailable(request: Request, exc: BaseException) -> None:
    """One warning line: the error's class only (a driver's message may name the host)."""
    request_id = getattr(request.state, "request_id", "")
    log.warning("database unavailable (%s)", type(exc).__name__, extra={"request_id": request_id})


def database_unavailable(request: Request, exc: Exception) -> Response:
    """The answer to one of :data:`DATABASE_UNAVAILABLE`: 507 when it says the disk is full
    (SQLite's "database or disk is full" is an ``OperationalError``), else 503."""
    if is_storage_full(exc):
        return _storage_full(request)
    log_unavailable(request, exc)
    return unavailable(request)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    return database_unavailable(request, exc)


def wait_of(seconds: int) -> tuple[int, str]:
    """``retry_after`` as a count of its largest sensible unit, rounded up: (2, "minutes")."""
    for size, unit in ((86400, "days"), (3600, "hours"), (60, "minutes")):
        if seconds >= 2 * size or (unit == "minutes" and seconds > 90):
            return -(-seconds // size), unit
    return seconds, "seconds"


_UNITS: Final = {"days": "day", "hours": "hour", "minutes": "minute", "seconds": "second"}


def _limited(request: Request, exc: RateLimited) -> Response:
    """429 saying when to try again: a page, or a problem document with ``retry_after``."""
    count, unit = wait_of(exc.retry_after)
    if _is_api(request):
        words = f"{count} {_UNITS[unit] if count == 1 else unit}"
        response: Response = problem(
            429,
            "rate_limited",
            request.url.path,
            detail=f"Too many attempts. Please try again in {words}.",
            retry_after=exc.retry_after,
        )
    else:
        response = render(request, "limited.html", status=429, count=count, unit=unit)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _storage_full(request: Request) -> Response:
    log.error(
        "no room left to store a request's data (disk or quota full)",
        extra={"request_id": getattr(request.state, "request_id", "")},
    )
    response = respond(request, 507, StorageFull.code)
    response.headers["Retry-After"] = str(STORAGE_RETRY_AFTER)
    return response


def unexpected(request: Request, exc: Exception) -> Response:
    """The last net's answer (:mod:`.middleware`): ``507`` for a full disk, else ``503``;
    logged with its trace, never shown."""
    if is_storage_full(exc):
        return _storage_full(request)
    log.exception("unhandled error", extra={"request_id": request.state.request_id})
    return unavailable(request)


async def _securebox_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SecureboxError)
    if isinstance(exc, RateLimited):
        return _limited(request, exc)
    if isinstance(exc, StorageFull):
        return _storage_full(request)
    if _status(exc) >= 500:
        return _server_side(request, exc)
    code = exc.code
    if isinstance(exc, NotAuthenticated):
        code = "not_authenticated"
    elif isinstance(exc, FlowError) and code not in MESSAGES:
        code = "flow_out_of_order"
    if isinstance(exc, Explained) and _is_api(request):
        response: Response = problem(_status(exc), code, request.url.path, detail=str(exc))
    else:
        response = respond(request, _status(exc), code)
    if response.status_code == 401 and _is_api(request):  # RFC 9110 15.5.2, RFC 6750 3
        response.headers["WWW-Authenticate"] = 'Bearer realm="securebox"'
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code if 400 <= exc.status_code < 500 else 400
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "malformed_input")
    response = respond(request, status, code)
    if status == 405 and exc.headers:
        response.headers.update(exc.headers)
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    return respond(request, 400, "malformed_input")


def install(app: FastAPI) -> None:
    app.add_exception_handler(SecureboxError, _securebox_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, _database_unavailable)
