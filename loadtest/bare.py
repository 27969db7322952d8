"""The bare argon2id verification rate: argon2-cffi with the server's ``PROFILE_2026``, no
pepper, no store, in ``N`` processes at once (``python -m loadtest.bare SECONDS`` prints how
many verifications one process made). Light imports: a process starts in well under a
second, so that the start-up is not counted against the rate."""

from __future__ import annotations

import subprocess
import sys
import time

import argon2

from securebox_auth.crypto.hashing import PROFILE_2026

__all__ = ["bare_argon2"]


def _count(seconds: float) -> int:
    profile = PROFILE_2026
    hasher = argon2.PasswordHasher(
        time_cost=profile.time_cost,
        memory_cost=profile.memory_cost_kib,
        parallelism=profile.parallelism,
        hash_len=profile.hash_len,
        salt_len=profile.salt_len,
    )
    secret = b"\x01" * 32
    encoded = hasher.hash(secret)
    count, until = 0, time.perf_counter() + seconds
    while time.perf_counter() < until:
        hasher.verify(encoded, secret)
        count += 1
    return count


def bare_argon2(processes: int, seconds: float, env: dict[str, str]) -> float:
    """Verifications a second over ``processes`` processes verifying for ``seconds``."""
    started = [
        subprocess.Popen(  # noqa: S603 - our interpreter, our module
            [sys.executable, "-m", "loadtest.bare", str(seconds)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    total = 0
    for process in started:
        out, _ = process.communicate(timeout=seconds + 120)
        if process.returncode != 0:
            raise RuntimeError(f"loadtest.bare exited with {process.returncode}")
        total += int(out)
    return total / seconds


if __name__ == "__main__":
    print(_count(float(sys.argv[1])))
