"""``python -m loadtest``: a load run of the reference server on loopback, its Markdown
report written (``--report``, ``.cache/load/report.md`` by default) and printed. Exit 1
when an exactness check fails or a mix had errors."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from loadtest.ingest import BATCH, MAX_BATCH, SPREAD
from loadtest.report import markdown
from loadtest.run import MIXES, load_run, mix_keys, rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="the whole run, per database")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument(
        "--documents",
        type=int,
        default=24,
        help="documents behind the pages: the first 24 published through the API (the "
        "downloads' PDFs), the rest bulk rows (cached under .cache/load from 100,000)",
    )
    parser.add_argument(
        "--mix",
        default="",
        help="comma-separated mixes to run (default: all): " + ", ".join(m.key for m in MIXES),
    )
    parser.add_argument(
        "--rate",
        default="",
        help="open model: arrivals a second for every mix (50) or per mix (home=500,login=10); "
        "the mixes not named keep the closed model",
    )
    parser.add_argument(
        "--spread",
        type=int,
        default=SPREAD,
        help="the subscriptions (one company each) of the ingestion_spread mixes",
    )
    parser.add_argument(
        "--batch", type=int, default=BATCH, help="documents a batch of the ingestion_batch mixes"
    )
    parser.add_argument("--report", type=Path, default=Path(".cache/load/report.md"))
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.databases.split(",") if k.strip()]
    try:
        keys = mix_keys(args.mix)
        arrivals = rates(args.rate, keys)
    except ValueError as exc:
        parser.error(str(exc))
    if not kinds or set(kinds) - {"sqlite", "postgresql"}:
        parser.error("--databases: sqlite, postgresql or both")
    if args.documents < 1 or args.workers < 1 or not args.seconds > 0:
        parser.error("--documents, --workers and --seconds are positive")
    if args.spread < 1 or not 1 <= args.batch <= MAX_BATCH:
        parser.error(f"--spread is positive, --batch 1 to {MAX_BATCH}")
    per_mix = max(1.0, args.seconds / len(keys))
    with tempfile.TemporaryDirectory(prefix="securebox-load-") as home:
        run = load_run(
            kinds,
            per_mix,
            args.workers,
            Path(home),
            args.documents,
            mixes=keys,
            rate=arrivals,
            spread=args.spread,
            batch=args.batch,
        )
    text = markdown(run)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text, encoding="utf-8")
    print(text)
    bad = any(not c.ok for c in run.checks) or any(m.stats.errors for m in run.mixes)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
