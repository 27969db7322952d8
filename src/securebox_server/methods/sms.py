"""A one-time code by SMS to the user's verified mobile number: a second factor
(possession). The page is :mod:`securebox_server.methods.oob`."""

from __future__ import annotations

from securebox_auth.factors.oob import Channel
from securebox_server.methods.oob import oob_method

__all__ = ["METHOD", "router"]

METHOD = oob_method(Channel.SMS)
router = METHOD.router
