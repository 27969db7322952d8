"""Measure argon2id on this machine and propose parameters (``securebox argon2 calibrate``,
whose command is :mod:`securebox_auth.cli.argon2`).

This module measures the machine (it reads a timer), so it is an edge of :mod:`.crypto`,
not pure core.

The chosen profile is documented in ``docs/adr/0002-argon2id-parameters.md``; run this on
the production hardware before raising :data:`~securebox_auth.crypto.hashing.PROFILE_2026`.
"""

from __future__ import annotations

import math
import secrets
import statistics
import time
from dataclasses import dataclass

import argon2

from securebox_auth.crypto.hashing import Argon2Parameters
from securebox_auth.errors import ConfigurationError

__all__ = ["Measurement", "calibrate", "minimum_time_cost"]

#: OWASP Password Storage Cheat Sheet, argon2id: equivalent minimum settings, each a memory
#: cost in KiB and the smallest time cost that goes with it (parallelism 1).
_OWASP_MINIMUMS = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))


def minimum_time_cost(memory_kib: int) -> int:
    """The smallest time cost OWASP's table allows at ``memory_kib``; below its lowest
    memory cost (7 MiB) no time cost is enough and :class:`ConfigurationError` is raised."""
    for memory, time_cost in _OWASP_MINIMUMS:
        if memory_kib >= memory:
            return time_cost
    raise ConfigurationError(
        f"argon2id with {memory_kib} KiB is below the OWASP minimum of 7168 KiB (7 MiB); "
        "use at least 19456 KiB (19 MiB)"
    )


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
    """Measure time costs from OWASP's minimum for ``memory_kib`` upwards and return the
    largest within ``target_ms`` (never below that minimum; memory under 7 MiB is refused)."""
    floor = minimum_time_cost(memory_kib)
    if rounds < 1 or not 0 < target_ms < math.inf:  # also refuses NaN
        raise ConfigurationError("rounds must be at least 1 and the target a positive number")
    measurements: list[Measurement] = []
    chosen = Argon2Parameters(time_cost=floor, memory_cost_kib=memory_kib, parallelism=1)
    for time_cost in range(floor, max(floor, max_time_cost) + 1):
        params = Argon2Parameters(time_cost=time_cost, memory_cost_kib=memory_kib, parallelism=1)
        result = _measure(params, rounds)
        measurements.append(result)
        if result.median_ms > target_ms:
            break
        chosen = params
    return measurements, chosen
