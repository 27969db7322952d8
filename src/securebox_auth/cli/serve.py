"""``securebox serve``: run the reference server (the ``server`` extra) with uvicorn."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def _handle(args: argparse.Namespace) -> int:
    try:
        from securebox_server import cli as server_cli  # noqa: PLC0415 - optional extra
    except ImportError:
        print(
            'securebox: error: serve needs the server extra: pip install "securebox[server]"',
            file=sys.stderr,
        )
        return 2
    return server_cli.serve(args)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser("serve", help="run the reference server (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (1)")
    serve.add_argument("--settings", default=None, help="a TOML settings file")
    serve.set_defaults(handler=_handle)
