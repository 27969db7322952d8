"""``securebox clock``: the shared high-water mark of time (ADR 0042; the ``server`` extra).

    securebox clock show
    securebox clock reset --actor NAME --reason TEXT [--to ISO-8601]

``show`` prints the stored mark, its epoch and this host's clock. ``reset`` is the operator's
fix for a mark set far in the future by a wrong clock: it sets the mark to ``--to`` (this
host's clock by default) in a new epoch, audited as ``clock.mark.reset`` by
``operator/NAME`` in the same transaction; running processes adopt it within
``clock_mark_ms``. The commands are in :mod:`securebox_server.clock_cli`, imported only
when one runs. Exit codes: 0 done, 2 a usage or input error.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def _handle(args: argparse.Namespace) -> int:
    try:
        from securebox_server import clock_cli  # noqa: PLC0415 - optional extra
    except ImportError:
        print(
            'securebox: error: clock needs the server extra: pip install "securebox[server]"',
            file=sys.stderr,
        )
        return 2
    return clock_cli.run(args)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    clock = subparsers.add_parser("clock", help="the shared high-water mark of time")
    commands = clock.add_subparsers(title="clock commands", metavar="COMMAND", required=True)
    show = commands.add_parser("show", help="the stored mark and this host's clock")
    reset = commands.add_parser("reset", help="set the mark (a clock was far ahead), audited")
    reset.add_argument("--to", default=None, help="ISO-8601 time with offset (default: now)")
    reset.add_argument("--reason", required=True, help="why (the wrong clock, the ticket)")
    reset.add_argument("--actor", required=True, help="the operator's name (audit actor)")
    for name, parser in (("show", show), ("reset", reset)):
        parser.add_argument("--settings", default=None, help="the server's TOML settings file")
        parser.set_defaults(handler=_handle, command=name)
