"""``python -m loadtest``: a load run of the reference server on loopback, its Markdown
report written (``--report``, ``.cache/load/report.md`` by default) and printed. Exit 1
when an exactness check fails or a mix had errors."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from loadtest.report import markdown
from loadtest.run import MIXES, load_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="the whole run, per database")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument("--documents", type=int, default=24, help="seeded documents")
    parser.add_argument("--report", type=Path, default=Path(".cache/load/report.md"))
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    per_mix = max(1.0, args.seconds / len(MIXES))
    with tempfile.TemporaryDirectory(prefix="securebox-load-") as home:
        run = load_run(kinds, per_mix, args.workers, Path(home), args.documents)
    text = markdown(run)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text, encoding="utf-8")
    print(text)
    bad = any(not c.ok for c in run.checks) or any(m.stats.errors for m in run.mixes)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
