"""The confidential code (the seed's "code confidentiel", 8 digits): a first factor."""

from __future__ import annotations

from securebox_auth.shell.answers import CodeAnswer
from securebox_server.methods.typed_code import typed_code_method

__all__ = ["METHOD", "router"]

METHOD = typed_code_method(
    "code", CodeAnswer, names=("confidential_code",), label="Confidential code"
)
router = METHOD.router
