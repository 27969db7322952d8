"""A TOTP application's 6-digit code: a second factor (RFC 6238)."""

from __future__ import annotations

from securebox_auth.shell.answers import TotpAnswer
from securebox_server.methods.typed_code import typed_code_method

__all__ = ["METHOD", "router"]

METHOD = typed_code_method("totp", TotpAnswer, names=("totp",), label="Authenticator application")
router = METHOD.router
