"""``securebox argon2 calibrate``: measure argon2id on this machine and propose parameters.

The chosen profile is documented in ``docs/adr/0002-argon2id-parameters.md``; run this on
the production hardware before raising :data:`~securebox_auth.hashing.PROFILE_2026`.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from dataclasses import dataclass

import argon2

from securebox_auth.hashing import Argon2Parameters

__all__ = ["Measurement", "calibrate", "register"]


@dataclass(frozen=True, slots=True)
class Measurement:
    parameters: Argon2Parameters
    median_ms: float


def _measure(parameters: Argon2Parameters, rounds: int) -> Measurement:
    hasher = argon2.PasswordHasher(
        time_cost=parameters.time_cost,
        memory_cost=parameters.memory_cost_kib,
        parallelism=parameters.parallelism,
    )
    secret = secrets.token_bytes(32)
    encoded = hasher.hash(secret)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        hasher.verify(encoded, secret)
        samples.append(time.perf_counter() - start)
    return Measurement(parameters, statistics.median(samples) * 1000)


def calibrate(
    target_ms: float, memory_kib: int = 19456, rounds: int = 7, max_time_cost: int = 12
) -> tuple[list[Measurement], Argon2Parameters]:
    """Measure time costs 2.. at ``memory_kib`` and return the largest within ``target_ms``
    (never below OWASP's minimum t=2 at 19 MiB)."""
    measurements: list[Measurement] = []
    chosen = Argon2Parameters(time_cost=2, memory_cost_kib=memory_kib, parallelism=1)
    for time_cost in range(2, max_time_cost + 1):
        params = Argon2Parameters(time_cost=time_cost, memory_cost_kib=memory_kib, parallelism=1)
        result = _measure(params, rounds)
        measurements.append(result)
        if result.median_ms > target_ms:
            break
        chosen = params
    return measurements, chosen


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
