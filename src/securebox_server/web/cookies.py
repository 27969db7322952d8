"""Cookie names and flags.

Under https every cookie that carries state is ``__Host-`` prefixed (``Secure``, ``Path=/``,
no ``Domain``), ``HttpOnly`` and ``SameSite=Strict``. Browsers refuse a ``__Host-`` cookie
without ``Secure``, so under plain http (the local demo only) the same cookies are named
``sb-...`` without the prefix and without ``Secure`` (documented in ADR 0024).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

__all__ = ["CookieNames"]

#: A year, for the preference cookies (language, accessible version, remembered identifier).
PREFERENCE_AGE = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class CookieNames:
    secure: bool

    def _name(self, base: str) -> str:
        return f"__Host-sb-{base}" if self.secure else f"sb-{base}"

    @property
    def session(self) -> str:
        """The library session id, after login."""
        return self._name("session")

    @property
    def flow(self) -> str:
        """The login flow's handle, before login."""
        return self._name("flow")

    @property
    def pre(self) -> str:
        """A random value binding the CSRF token of pages shown before any flow."""
        return self._name("pre")

    @property
    def remember(self) -> str:
        """The remembered client identifier (the user's choice)."""
        return self._name("remember")

    @property
    def lang(self) -> str:
        return self._name("lang")

    @property
    def accessible(self) -> str:
        return self._name("a11y")

    def set(self, response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def clear(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="strict")
