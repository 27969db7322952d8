"""The ``securebox`` command.

Exit codes, the same for every sub-command: **0** done (or the check passed); **1** the
answer is "no": a code or card was rejected, a policy has findings, a schema differs;
**2** usage or environment error: a wrong argument, a missing service or extra, a file
that does not parse (the message on standard error says which).

Sub-commands are registered by small modules (``register(subparsers)``) so each concept keeps
its own command code: ``demo`` (:mod:`securebox_auth.cli.demo`), ``argon2``
(:mod:`securebox_auth.cli.argon2`), ``policy`` (:mod:`securebox_auth.cli.policy`), ``card``,
``db`` and ``audit`` (:mod:`securebox_auth.cli.audit`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from securebox_auth.errors import SecureboxError

__all__ = ["EXIT_OK", "EXIT_REJECTED", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2

# (module, description): each module defines ``register(subparsers) -> None`` and sets
# ``handler`` defaults on its parsers: ``handler(args) -> int``.
_COMMAND_MODULES: tuple[str, ...] = (
    "securebox_auth.cli.demo",
    "securebox_auth.cli.serve",
    "securebox_auth.cli.jobs",
    "securebox_auth.cli.argon2",
    "securebox_auth.cli.policy",
    "securebox_auth.cards.cli",
    "securebox_auth.cards.token_cli",
    "securebox_auth.stores.sql.cli",
    "securebox_auth.cli.audit",
    "securebox_auth.cli.clients",
    "securebox_auth.cli.box",
    "securebox_auth.cli.clock",
)


def _version() -> str:
    try:
        return version("securebox")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="securebox",
        description="Strong customer authentication and entitlements for business portals.",
    )
    parser.add_argument("--version", action="version", version=f"securebox {_version()}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] = (
            import_module(name).register
        )
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        print("securebox: error: name a command", file=sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except SecureboxError as exc:
        print(f"securebox: error: {exc} ({exc.code})", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a file that cannot be read or written: an environment error
        where = f": {exc.filename}" if exc.filename is not None else ""
        print(f"securebox: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
