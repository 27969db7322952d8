"""``securebox argon2 calibrate``: measure argon2id here and propose parameters.

The measurement is :func:`securebox_auth.crypto.calibrate.calibrate`; this module is the
command that prints it.
"""

from __future__ import annotations

import argparse

from securebox_auth.crypto.calibrate import calibrate

__all__ = ["register"]


def _handle(args: argparse.Namespace) -> int:
    measurements, chosen = calibrate(args.target_ms, args.memory_kib, args.rounds)
    for m in measurements:
        p = m.parameters
        print(
            f"t={p.time_cost:<3} m={p.memory_cost_kib} KiB p={p.parallelism}: {m.median_ms:7.1f} ms"
        )
    print(
        f"proposed: Argon2Parameters(time_cost={chosen.time_cost}, "
        f"memory_cost_kib={chosen.memory_cost_kib}, parallelism=1)"
    )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    argon = subparsers.add_parser("argon2", help="argon2id parameters for confidential codes")
    sub = argon.add_subparsers(title="argon2 commands", metavar="COMMAND", required=True)
    cal = sub.add_parser("calibrate", help="measure argon2id here and propose parameters")
    cal.add_argument("--target-ms", type=float, default=50.0, help="budget per verification")
    cal.add_argument("--memory-kib", type=int, default=19456, help="memory cost in KiB")
    cal.add_argument("--rounds", type=int, default=7, help="measurements per setting")
    cal.set_defaults(handler=_handle)
