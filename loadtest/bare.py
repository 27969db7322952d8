"""The bare argon2id verification rate: argon2-cffi with the server's ``PROFILE_2026``, no
pepper, no store (``bare_verifier`` of ``benchmarks/bench_flow.py``), in ``N`` processes
at once (``python -m loadtest.bare SECONDS`` prints how many verifications one process
made, counted after its imports)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from securebox_auth.crypto.hashing import PROFILE_2026

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_flow import bare_verifier  # the benchmarks' own, on their path

__all__ = ["bare_argon2"]


def _count(seconds: float) -> tuple[int, float]:
    """Verifications made in ``seconds``, and the CPU seconds they took."""
    verify = bare_verifier(PROFILE_2026)
    count, until, cpu = 0, time.perf_counter() + seconds, time.process_time()
    while time.perf_counter() < until:
        verify()
        count += 1
    return count, time.process_time() - cpu


def bare_argon2(processes: int, seconds: float, env: dict[str, str]) -> tuple[float, float]:
    """Verifications a second over ``processes`` processes verifying for ``seconds``, and
    verifications per CPU second (the machine is shared: the wall rate depends on the
    neighbours, the CPU rate much less)."""
    started = [
        subprocess.Popen(  # noqa: S603 - our interpreter, our module
            [sys.executable, "-m", "loadtest.bare", str(seconds)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    total, cpu = 0, 0.0
    try:
        for process in started:
            out, _ = process.communicate(timeout=seconds + 120)
            if process.returncode != 0:
                raise RuntimeError(f"loadtest.bare exited with {process.returncode}")
            count, used = out.split()
            total, cpu = total + int(count), cpu + float(used)
    finally:
        for process in started:  # only ours, by their pid
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    return total / seconds, total / cpu


if __name__ == "__main__":
    print(*_count(float(sys.argv[1])))
