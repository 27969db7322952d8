"""Where the portal journey's time goes, outside argon2id: cProfile over ``bench_flow``'s
journey on one store, the time grouped by where it is spent.

    python3 benchmarks/profile_flow.py postgresql 30     # store kind, journeys
    python3 benchmarks/profile_flow.py sqlite 30 --top 25

Groups: argon2id (the hash itself), database round trips (waiting on the driver: psycopg's
``wait`` / sqlite3's ``execute``/``commit``), and the rest (the library's Python, JSON,
HMAC, signatures). The top functions by own time follow.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_flow import Journey, portal

from securebox_auth import PROFILE_2026, FixedClock, Principal

GROUPS = {
    "argon2id": ("argon2", "_argon2"),
    "database (driver waits)": ("psycopg", "sqlite3", "method 'execute' of 'sqlite3", "commit'"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("kind", choices=("memory", "sqlite", "postgresql"))
    parser.add_argument("journeys", type=int, nargs="?", default=30)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    box = portal(args.kind, PROFILE_2026, audit_key=b"\x07" * 32)
    assert isinstance(box.clock, FixedClock)
    journey = Journey(box, box.clock, Principal.parse("123456789", "01"))
    journey.run()
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for _ in range(args.journeys):
        journey.run()
    profile.disable()
    wall = (time.perf_counter() - started) / args.journeys
    stats = pstats.Stats(profile)
    own: dict[str, float] = dict.fromkeys((*GROUPS, "everything else"), 0.0)
    raw_stats: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    raw_stats = stats.stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, tottime, _, _) in raw_stats.items():
        where = f"{filename} {function}"
        group = next((g for g, keys in GROUPS.items() if any(k in where for k in keys)), None)
        own[group or "everything else"] += tottime / args.journeys
    total = sum(own.values())
    print(f"{args.kind}: {wall * 1e3:.1f} ms per journey (profiled: {total * 1e3:.1f} ms)")
    for group, seconds in own.items():
        print(f"  {group:28} {seconds * 1e3:8.2f} ms  {seconds / total:6.1%}")
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
