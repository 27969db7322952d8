"""``securebox jobs``: the reference server's jobs worker (the ``server`` extra).

``jobs run``: one pass of everything (notifications due, expiry warnings, expiry and
deletion, purge of spent sessions and one-time values), prints counts, exits 0 (2 when a
task failed). ``jobs worker``: passes every ``--interval`` seconds until SIGTERM.
``jobs bounce``: record a bounce (a mail DSN, a failed SMS delivery report) of a digest by
its Message-ID; exits 1 when no sent notification has that id.
"""

from __future__ import annotations

import argparse
import sys

from securebox_auth.cli.serve import positive

__all__ = ["register"]


def _handle(args: argparse.Namespace) -> int:
    try:
        from securebox_server.jobs import cli as jobs_cli  # noqa: PLC0415 - optional extra
    except ImportError:
        print(
            'securebox: error: jobs needs the server extra: pip install "securebox[server]"',
            file=sys.stderr,
        )
        return 2
    handler = {"run": jobs_cli.run, "worker": jobs_cli.worker, "bounce": jobs_cli.bounce}
    return handler[args.jobs_command](args)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = subparsers.add_parser("jobs", help="notifications, expiry and purge (the worker)")
    commands = jobs.add_subparsers(title="jobs commands", metavar="JOBS_COMMAND")
    run = commands.add_parser("run", help="one pass of everything, then exit")
    worker = commands.add_parser("worker", help="run passes until SIGTERM")
    worker.add_argument(
        "--interval", type=positive, default=30, help="seconds between two passes (30)"
    )
    bounce = commands.add_parser("bounce", help="record a bounce of a digest by Message-ID")
    bounce.add_argument("--message-id", required=True, help="the digest's Message-ID")
    bounce.add_argument("--reason", default="bounced", help="the DSN's status or text")
    for name, parser in (("run", run), ("worker", worker), ("bounce", bounce)):
        parser.add_argument("--settings", default=None, help="a TOML settings file")
        parser.add_argument(
            "--lease", type=positive, default=300, help="lease of claimed work, seconds (300)"
        )
        parser.add_argument(
            "--batch", type=positive, default=500, help="outbox rows claimed at a time (500)"
        )
        parser.set_defaults(handler=_handle, jobs_command=name)
