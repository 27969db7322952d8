"""Run every benchmark (``benchmarks/bench_*.py``) and print ratios against the bare
primitives measured in the same run.

    python3 benchmarks/run.py            # all benchmarks
    python3 benchmarks/run.py code       # only bench_code.py
    python3 benchmarks/run.py --quick    # fewer rounds (smoke run)

Exit status 1 when a ratio misses its target.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import Comparison  # noqa: E402


def _fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:9.3f} ms"
    return f"{seconds * 1e6:9.2f} µs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("names", nargs="*", help="benchmark names (bench_NAME.py)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args(argv)
    names = args.names or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    failed = 0
    print(f"{'benchmark':44} {'subject':>12} {'baseline':>12} {'ratio':>7} {'target':>7}")
    for name in names:
        module = importlib.import_module(f"bench_{name}")
        results: list[Comparison] = module.run(quick=args.quick)
        for c in results:
            verdict = "ok" if c.ok else "MISSED"
            failed += not c.ok
            print(
                f"{c.subject.name:44} {_fmt(c.subject.median_s)} {_fmt(c.baseline.median_s)} "
                f"{c.ratio:6.3f}x {c.target:6.2f}x {verdict}"
            )
            print(f"{'':4}baseline: {c.baseline.name}")
    print(f"{failed} target(s) missed" if failed else "all targets met")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
