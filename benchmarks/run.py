"""Run every benchmark (``benchmarks/bench_*.py``) and print ratios against the bare
primitives measured in the same run, and the concurrency figures with their limits.

    python3 benchmarks/run.py                  # all benchmarks
    python3 benchmarks/run.py code flow        # only bench_code.py and bench_flow.py
    python3 benchmarks/run.py --only code,flow # the same
    python3 benchmarks/run.py --skip sql       # all but bench_sql.py
    python3 benchmarks/run.py --list           # the benchmark names
    python3 benchmarks/run.py --quick          # fewer rounds, smaller data (CI smoke run)

Exit status 1 when a ratio or a figure misses its target.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import Comparison, Reading  # noqa: E402


def _fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:9.3f} ms"
    return f"{seconds * 1e6:9.2f} µs"


def _names(value: str) -> list[str]:
    return [n.strip().removeprefix("bench_") for n in value.split(",") if n.strip()]


def _print(row: Comparison | Reading) -> None:
    verdict = "ok" if row.ok else "MISSED"
    if isinstance(row, Reading):
        limit = "-" if row.limit is None else f"<= {row.limit:g}"
        if row.at_least is not None:
            limit = f">= {row.at_least:g}"
        print(f"{row.name:44} {row.value:12.4g} {row.unit:<12} {limit:>15} {verdict}")
        if row.detail:
            print(f"{'':4}{row.detail}")
        return
    print(
        f"{row.subject.name:44} {_fmt(row.subject.median_s)} {_fmt(row.baseline.median_s)} "
        f"{row.ratio:6.3f}x {row.target:6.2f}x {verdict}"
    )
    print(f"{'':4}baseline: {row.baseline.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", help="benchmark names (bench_NAME.py)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names to leave out")
    parser.add_argument("--list", action="store_true", help="print the benchmark names")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller data")
    args = parser.parse_args(argv)
    everything = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    if args.list:
        print("\n".join(everything))
        return 0
    names = [*args.names, *_names(args.only)] or everything
    skipped = set(_names(args.skip))
    unknown = sorted(set(names) - set(everything))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)} (see --list)")
    failed = 0
    print(f"{'benchmark':44} {'subject':>12} {'baseline':>12} {'ratio':>7} {'target':>7}")
    for name in (n for n in names if n not in skipped):
        started = time.perf_counter()
        module = importlib.import_module(f"bench_{name}")
        results: list[Comparison | Reading] = module.run(quick=args.quick)
        for row in results:
            failed += not row.ok
            _print(row)
        print(f"{'':4}(bench_{name}: {time.perf_counter() - started:.1f} s)")
    print(f"{failed} target(s) missed" if failed else "all targets met")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
