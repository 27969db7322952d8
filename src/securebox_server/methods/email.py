"""A one-time code by e-mail to the user's verified address: a second factor (a weak
possession element: the policy linter warns where it is accepted). The page is
:mod:`securebox_server.methods.oob`."""

from __future__ import annotations

from securebox_auth.factors.oob import Channel
from securebox_server.methods.oob import oob_method

__all__ = ["METHOD", "router"]

METHOD = oob_method(Channel.EMAIL)
router = METHOD.router
