#!/usr/bin/env python3
"""Several hosts behind nginx on one PostgreSQL, a host killed under load, for longer than
the test (``tests/server/scale``): the same deployment and load, ``--rounds`` rounds of
``--seconds`` each; in each round one host (A, then B, then C...) gets SIGKILL at
``--kill-at`` seconds, and is started again before the next round. After every round the
counts are checked (no GET answered 5xx, POSTs cut in flight answered 502 and at most one a
lane, every acknowledged login has its session, every acknowledged publication its document
and none twice); after the last, ``securebox audit verify``. The Markdown report goes to
``--report`` and to the standard output. Exit 1 when a check failed.

    PYTHONPATH=src:. python3 tools/scale_cluster.py --rounds 3 --seconds 60

Run as root to have network namespaces (else loopback addresses;
``SECUREBOX_SCALE_NETWORK=loopback`` forces them); it needs Debian's nginx and PostgreSQL 15.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.server.live.test_live import _code_login  # noqa: E402
from tests.server.scale.cluster import cluster  # noqa: E402
from tests.server.scale.load import Plan, audit_verify, check, documents_count, report, run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/scale_cluster.py", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0, help="per round")
    parser.add_argument("--kill-at", type=float, default=20.0, help="seconds into a round")
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="per host")
    parser.add_argument("--login-lanes", type=int, default=3)
    parser.add_argument("--page-lanes", type=int, default=2)
    parser.add_argument("--publish-lanes", type=int, default=2)
    parser.add_argument("--report", type=Path, default=Path(".cache/scale/report.md"))
    args = parser.parse_args(argv)
    if args.hosts < 2 or args.rounds < 1 or not 0 < args.kill_at < args.seconds:
        parser.error("at least 2 hosts and 1 round; 0 < --kill-at < --seconds")
    sections, failed = [], False
    with (
        tempfile.TemporaryDirectory(prefix="securebox-scale-") as home,
        cluster(Path(home), hosts=args.hosts, workers=args.workers) as made,
    ):
        people = made.people
        users = [people.user()[0] for _ in range(args.login_lanes)]
        browsers = [people.browser(keep_alive=True) for _ in range(args.page_lanes)]
        for browser in browsers:
            assert _code_login(browser, people.user()[0]).headers["location"] == "/home"
        note = f" ({made.network.note})" if made.network.note else ""
        sections.append(f"# Several hosts behind nginx: {made.network.kind}{note}\n")
        for n in range(args.rounds):
            plan = Plan(
                args.seconds, args.kill_at, args.login_lanes, args.page_lanes,
                args.publish_lanes, victim=n % args.hosts,
            )  # fmt: skip
            before = documents_count(made)
            result = run(made, plan, users, browsers)
            problems = check(made, result, before)
            failed |= bool(problems)
            sections.append(f"## Round {n + 1}\n\n{report(result)}\n")
            sections.append("checks: " + ("; ".join(problems) or "all exact") + "\n")
            print(sections[-2] + sections[-1], flush=True)
            victim = made.hosts[plan.victim]
            victim.start(made.settings, args.workers)
            victim.wait_ready()
        for browser in browsers:
            browser.close()
        sections.append(f"audit: {audit_verify(made).splitlines()[-1]}\n")
    text = "\n".join(sections)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text, encoding="utf-8")
    print(sections[-1])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
