"""Asking for a PIN on the command line: without echo, on a terminal, or not at all."""

from __future__ import annotations

import getpass
import warnings

from securebox_auth.errors import EnvironmentUnavailable

__all__ = ["ask_secret"]


def ask_secret(prompt: str, *, instead: str | None = None) -> str:
    """Ask for a secret without echo on the controlling terminal.

    Without a terminal, :func:`getpass.getpass` would read standard input with echo on (it
    warns and falls back): that is refused, and so is an input that ends before a line.
    ``instead`` says what else the user can do (``"pass --pin (testing only)"``).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            return getpass.getpass(prompt)
        except (getpass.GetPassWarning, EOFError, OSError):
            other = f", or {instead}" if instead else ""
            raise EnvironmentUnavailable(
                f"no terminal to ask the PIN on: run the command in a terminal{other}"
            ) from None
