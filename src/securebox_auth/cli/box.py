"""``securebox box``: an operator's commands on the digital box (the ``server`` extra).

    securebox box hold DOCUMENT_ID (--on | --off) --reason TEXT --actor NAME
    securebox box holds
    securebox box show DOCUMENT_ID

``hold`` sets or lifts a legal hold (no deletion path removes a held document), audited as
``box.document.legal_hold`` by ``operator/NAME`` with the reason; ``holds`` lists the held
documents; ``show`` prints a document's metadata, status, clocks and digest, never its
body. The commands are in :mod:`securebox_server.box.cli`, imported only when one runs.
Exit codes: 0 done, 1 no such document, 2 a usage or input error.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def _handle(args: argparse.Namespace) -> int:
    try:
        from securebox_server.box import cli  # noqa: PLC0415 - optional extra
    except ImportError:
        print(
            'securebox: error: box needs the server extra: pip install "securebox[server]"',
            file=sys.stderr,
        )
        return 2
    return cli.run(args)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    box = subparsers.add_parser("box", help="the digital box: legal holds, a document's record")
    commands = box.add_subparsers(title="box commands", metavar="COMMAND", required=True)
    hold = commands.add_parser("hold", help="set or lift a document's legal hold")
    hold.add_argument("document_id", help="the document")
    side = hold.add_mutually_exclusive_group()  # one of them: checked by the command
    side.add_argument("--on", dest="hold", action="store_const", const=True, help="set it")
    side.add_argument("--off", dest="hold", action="store_const", const=False, help="lift it")
    hold.add_argument("--reason", required=True, help="why (a court order, a dispute)")
    hold.add_argument("--actor", required=True, help="the operator's name (audit actor)")
    holds = commands.add_parser("holds", help="list the documents under a legal hold")
    show = commands.add_parser("show", help="a document's metadata and clocks (no body)")
    show.add_argument("document_id", help="the document")
    for name, parser in (("hold", hold), ("holds", holds), ("show", show)):
        parser.add_argument("--settings", default=None, help="the server's TOML settings file")
        parser.set_defaults(handler=_handle, command=name)
