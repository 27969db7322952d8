"""``securebox clients``: the digital box's API clients (the ``server`` extra).

    securebox clients add-sender --sender ID --name NAME (--jwks FILE | --certificate PEM)
    securebox clients add-receiver --client-id C --company SIREN [--company ...] --name NAME
                                   (--jwks FILE | --certificate PEM) [--user-number N]
    securebox clients list
    securebox clients revoke CLIENT_ID

The parser is here; the commands are in :mod:`securebox_server.clients.cli`, imported only
when one runs (like ``securebox serve``). The database and the master key come from the
server's settings (``--settings`` or the ``SECUREBOX_*`` environment).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def _handle(args: argparse.Namespace) -> int:
    try:
        from securebox_server.clients import cli  # noqa: PLC0415 - optional extra
    except ImportError:
        print(
            'securebox: error: clients needs the server extra: pip install "securebox[server]"',
            file=sys.stderr,
        )
        return 2
    return cli.run(args)


def _credentials(command: argparse.ArgumentParser) -> None:
    command.add_argument("--name", required=True, help="who the client is (shown in lists)")
    command.add_argument("--jwks", help="a JSON file: the client's public keys (RFC 7517)")
    command.add_argument("--certificate", help="a PEM file: the client's mTLS certificate")
    command.add_argument("--settings", default=None, help="the server's TOML settings file")
    command.add_argument(
        "--operator", default="securebox-cli", help="who registers it (the audit actor)"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    clients = subparsers.add_parser("clients", help="the box's API clients (senders, receivers)")
    commands = clients.add_subparsers(title="clients commands", metavar="COMMAND", required=True)
    sender = commands.add_parser("add-sender", help="register a sender (publishes documents)")
    sender.add_argument("--sender", required=True, help="the sender id used in the box")
    _credentials(sender)
    sender.set_defaults(handler=_handle, command="add-sender")
    receiver = commands.add_parser(
        "add-receiver", help="register a company's service account (reads documents)"
    )
    receiver.add_argument("--client-id", required=True, help="the subscription's client id")
    receiver.add_argument(
        "--company", action="append", required=True, help="a SIREN it may read (repeatable)"
    )
    receiver.add_argument("--user-number", help="its account's user number (default: 9999 down)")
    _credentials(receiver)
    receiver.set_defaults(handler=_handle, command="add-receiver")
    listing = commands.add_parser("list", help="list the clients")
    listing.add_argument("--settings", default=None, help="the server's TOML settings file")
    listing.set_defaults(handler=_handle, command="list")
    revoke = commands.add_parser("revoke", help="revoke a client (its tokens stop at once)")
    revoke.add_argument("client_id", help="the client to revoke")
    revoke.add_argument("--settings", default=None, help="the server's TOML settings file")
    revoke.add_argument("--operator", default="securebox-cli", help="the audit actor")
    revoke.set_defaults(handler=_handle, command="revoke")
