"""``securebox serve``: run the reference server (the ``server`` extra) with uvicorn."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return value


def port(text: str) -> int:
    """An argparse type: a TCP port (1-65535)."""
    value = positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("at most 65535")
    return value


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
    serve.add_argument("--port", type=port, default=8000, help="port (8000)")
    serve.add_argument("--workers", type=positive, default=1, help="worker processes (1)")
    serve.add_argument("--settings", default=None, help="a TOML settings file")
    serve.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="JSON log lines on standard error from this level (info: one per request)",
    )
    serve.set_defaults(handler=_handle)
