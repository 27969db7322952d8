"""The codes the server answers with that are not exception codes.

An RFC 9457 problem document of the JSON API (and the error page) carries a stable ``code``:
most are the ``code`` of the :class:`~securebox_auth.errors.SecureboxError` that was raised
(listed on the documentation's error codes page, generated from the hierarchy); the few
below are the server's own answers, with no exception behind them. :func:`check_code` is
called by every answer: a code in neither set warns (:class:`UnregisteredProblemCode`),
which fails the test suite (warnings are errors there), so a new code cannot reach clients
without a line here and on the documentation page.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Final

from securebox_auth.errors import SecureboxError

__all__ = ["SERVER_CODES", "ServerCode", "UnregisteredProblemCode", "check_code"]


@dataclass(frozen=True, slots=True)
class ServerCode:
    """A code of the server's own: its HTTP status and what it means for a client."""

    status: int
    meaning: str


SERVER_CODES: Final = {
    "method_not_allowed": ServerCode(
        405, "The route exists but does not accept this method; `Allow` lists those it does."
    ),
    "unavailable": ServerCode(
        503,
        "The database or a gateway cannot be reached now, or an unexpected fault happened "
        "(logged with the request id, never shown); `Retry-After` says when to try again.",
    ),
    "login_blocked": ServerCode(
        403,
        "The login or step-up flow ended because access is blocked for now (lockout, PSD2 "
        "RTS art. 4(3)(b)); the same answer whether the client and user exist or not.",
    ),
    "login_denied": ServerCode(
        403, "The login flow ended without success (its proofs were refused): start a new one."
    ),
    "code_rejected": ServerCode(
        400,
        "The one-time code sent to a new contact address is wrong, expired or already "
        "used: the address is not confirmed.",
    ),
}


class UnregisteredProblemCode(UserWarning):
    """An answer carried a code that is neither an exception's nor in :data:`SERVER_CODES`."""


_known: set[str] = set()


def _exception_codes() -> set[str]:
    codes: set[str] = set()
    pending: list[type[SecureboxError]] = [SecureboxError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return codes


def check_code(code: str) -> None:
    """Warn when ``code`` is registered nowhere (see the module)."""
    if code in _known or code in SERVER_CODES:
        return
    _known.update(_exception_codes())  # classes defined since the last look count too
    if code not in _known:
        warnings.warn(
            f"problem code {code!r} is not registered (securebox_server.web.problem_codes)",
            UnregisteredProblemCode,
            stacklevel=3,
        )
