"""``securebox token agent``: run the local signing agent (:mod:`.token_agent`).

    securebox token agent --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so \\
        --origin https://portal.example.test [--port 8731]

It prints ``securebox token agent listening on http://127.0.0.1:PORT`` when it is ready and
runs until Ctrl-C or SIGTERM. ``--pin-from-fd N`` reads one PIN line per signature from an
inherited descriptor instead of the terminal: for automated tests only.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from securebox_auth.cards import agent_rules
from securebox_auth.cards.token_cli import common_options, token_selector
from securebox_auth.errors import ConfigurationError

__all__ = ["DEFAULT_PORT", "register_agent"]

#: The agent's port unless ``--port`` says otherwise (the portal page must know it).
DEFAULT_PORT = 8731


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _agent(args: argparse.Namespace) -> int:
    from securebox_auth.cards.pkcs11_client import load_module  # noqa: PLC0415
    from securebox_auth.cards.token_agent import (  # noqa: PLC0415 - needs the pkcs11 extra
        FdPin,
        PinSource,
        TerminalPin,
        TokenAgent,
        make_server,
    )

    if not 0 <= args.port <= 65535:
        raise ConfigurationError("--port is 0 to 65535")
    portals = agent_rules.Portals.parse(args.origin)
    selector = token_selector(args)
    load_module(selector)  # a wrong module path fails now, not at the first page
    pins: PinSource = TerminalPin() if args.pin_from_fd is None else FdPin(args.pin_from_fd)
    agent = TokenAgent(selector=selector, portals=portals, port=args.port, pins=pins)
    server = make_server(agent)
    signal.signal(signal.SIGTERM, _stop)
    print(f"securebox token agent listening on http://127.0.0.1:{agent.port}", flush=True)
    for origin in agent.portals.audiences:
        print(f"  for the portal {origin}", flush=True)
    print("Stop with Ctrl-C.", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("securebox token agent stopped", file=sys.stderr)
    return 0


def register_agent(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = commands.add_parser(
        "agent", help="serve the portal's certificate login on 127.0.0.1 (asks the PIN)"
    )
    common_options(agent)
    agent.add_argument(
        "--origin",
        action="append",
        required=True,
        metavar="ORIGIN[=AUDIENCE]",
        help="a portal origin allowed to call the agent (repeatable); AUDIENCE is the "
        "audience its challenges carry (default: the origin)",
    )
    agent.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 for a free port")
    agent.add_argument(
        "--pin-from-fd",
        type=int,
        metavar="FD",
        help="TESTS ONLY: read one PIN line per signature from this inherited descriptor",
    )
    agent.set_defaults(handler=_agent)
