"""Flask's ``session``, backed by the securebox session store.

The session cookie holds the securebox session identifier and nothing else: the facts (who,
which proofs, which grants) are in securebox's store, hashed under the identifier. Each
request reads the session through :meth:`Securebox.touch`, so the idle timeout and the
absolute lifetime of the policy (``[session]``) are securebox's; the identifier changes
when securebox rotates it (a recorded step-up), and the cookie follows. While a login is in
progress a second cookie, scoped to ``/login``, holds the login flow's handle.
"""

from __future__ import annotations

from typing import Any, Final, NoReturn

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from securebox_auth import (
    InvalidSessionId,
    MalformedInput,
    NotAuthenticated,
    Principal,
    Securebox,
    Session,
)

__all__ = ["LOGIN_COOKIE", "SESSION_COOKIE", "PortalSession", "SecureboxSessionInterface"]

SESSION_COOKIE: Final = "portal_session"
LOGIN_COOKIE: Final = "portal_login"


class PortalSession(dict[str, Any], SessionMixin):
    """The securebox session of this request (``auth``, ``None`` when logged out) and the
    pending login flow's handle. It stores no other data: a portal keeps what it needs in
    its own tables, keyed by the principal (writing a key raises ``TypeError``)."""

    def __init__(
        self, session_id: str | None, auth: Session | None, login_handle: str | None
    ) -> None:
        super().__init__()
        self.session_id = session_id
        self.auth = auth
        self.login_handle = login_handle
        self.session_changed = False
        self.login_changed = False

    def __setitem__(self, key: str, value: object) -> NoReturn:
        raise TypeError(
            f"the portal's session holds only the securebox session id, not {key!r}: "
            "keep other data in the portal's tables"
        )

    @property
    def principal(self) -> Principal | None:
        return None if self.auth is None else self.auth.principal

    def use(self, session_id: str, auth: Session | None = None) -> None:
        """From now on the cookie carries ``session_id`` (a login, or a rotation)."""
        if session_id != self.session_id:
            self.session_id, self.session_changed = session_id, True
        if auth is not None:
            self.auth = auth

    def forget(self) -> None:
        """No securebox session any more (logged out, timed out, ended)."""
        if self.session_id is not None:
            self.session_changed = True
        self.session_id, self.auth = None, None

    def begin_login(self, handle: str) -> None:
        self.login_handle, self.login_changed = handle, True

    def end_login(self) -> None:
        if self.login_handle is not None:
            self.login_changed = True
        self.login_handle = None


class SecureboxSessionInterface(SessionInterface):
    """Reads the securebox session behind the cookie at each request, writes the cookie only
    when the identifier changed. ``secure``: the cookies' ``Secure`` attribute."""

    def __init__(self, box: Securebox, *, secure: bool) -> None:
        self.box = box
        self.secure = secure

    def open_session(self, app: Flask, request: Request) -> PortalSession:
        session_id = request.cookies.get(SESSION_COOKIE) or None
        login = request.cookies.get(LOGIN_COOKIE) or None
        if session_id is None:
            return PortalSession(None, None, login)
        try:
            auth = self.box.touch(session_id)  # activity: the idle timer restarts
        except (NotAuthenticated, InvalidSessionId, MalformedInput):
            # timed out, ended, unknown or not an identifier: logged out, cookie deleted
            ended = PortalSession(session_id, None, login)
            ended.forget()
            return ended
        return PortalSession(session_id, auth, login)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        response.vary.add("Cookie")
        if not isinstance(session, PortalSession):  # pragma: no cover - open_session's own
            return
        if session.session_changed:
            self._cookie(response, SESSION_COOKIE, session.session_id, "/")
        if session.login_changed:
            self._cookie(response, LOGIN_COOKIE, session.login_handle, "/login")

    def _cookie(self, response: Response, name: str, value: str | None, path: str) -> None:
        if value is None:
            response.delete_cookie(
                name, path=path, secure=self.secure, httponly=True, samesite="Lax"
            )
            return
        # No Max-Age: a browser-session cookie; securebox decides when the session ends.
        response.set_cookie(
            name, value, path=path, secure=self.secure, httponly=True, samesite="Lax"
        )
