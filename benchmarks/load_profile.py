"""Where a load mix's server CPU goes: per worker, and per function.

``PYTHONPATH=src:. python3 benchmarks/load_profile.py --mix home --seconds 10`` starts the
load run's deployment (:mod:`loadtest.deployment`: ``securebox serve --workers N``, seeded),
runs one or more of its mixes (:data:`loadtest.run.MIXES`, by a short name) and prints, for
each mix:

- the CPU of each server process apart (``/proc/PID/stat``: the CLI, uvicorn's supervisor,
  each worker) and of the database's backends, and the requests each worker answered
  (on a CPU-bound page a worker's share of the CPU is its share of the requests);
- with ``--profile``, a sampling profile of every worker (py-spy, ``record --format raw``,
  100 samples a second, idle threads left out), folded into the functions with the largest
  inclusive and self share of the samples: the hot paths, in our code and below it.

Loopback only, bounded in time; the server is stopped by its pid, py-spy by its own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import loadtest.deployment
from loadtest.client import Stats
from loadtest.deployment import Deployment, deployment
from loadtest.run import GET_LANES, MIXES, POST_LANES, WARM_UP, Mix, Tally, cpu_seconds

#: The load run's mixes this profiler drives, by their ``--mix`` key (``ingest``: ingestion).
SHORT: Final = {
    "healthz": "healthz",
    "home": "home",
    "search": "search",
    "download": "download",
    "feed": "feed",
    "login": "login",
    "ingest": "ingestion",
}
#: Leaf frames of a waiting thread.
IDLE: Final = (
    "select (selectors.py",
    "wait (threading.py",
    "get (queue.py",
    "_recv (multiprocessing/connection.py",
    "poll (multiprocessing/connection.py",
)
#: py-spy's samples a second.
RATE: Final = 100


@contextmanager
def _database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="securebox-profile-db-") as folder:
            yield f"sqlite:///{folder}/load.db"
        return
    from tests.stores.conftest import _admin_url, scratch_postgres  # noqa: PLC0415

    with scratch_postgres(_admin_url()) as url:
        yield url


def _serve_from(source: Path) -> None:
    """The deployment's server imports ``securebox_server`` from ``source``."""
    plain = loadtest.deployment._Plain
    environment = plain.environment

    def first(self: Any) -> dict[str, str]:  # a _Plain
        env = environment(self)
        env["PYTHONPATH"] = os.pathsep.join([str(source), env["PYTHONPATH"]])
        return env

    plain.environment = first  # type: ignore[method-assign]


def _spy(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy on one worker for ``seconds`` (it stops by itself)."""
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    return subprocess.Popen(  # noqa: S603 - a tool found on PATH, our arguments
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(RATE),
            "--duration",
            str(max(1, int(seconds))),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _fold(files: list[Path], top: int) -> str:
    """The functions with the largest inclusive and self share of the samples."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = [f for f in stack.split(";") if f]
            # idle threads (the event loop's poll, the thread pool's wait, uvicorn's
            # health-check pipe) are not CPU
            if frames and any(idle in frames[-1] for idle in IDLE):
                continue
            total += n
            for frame in set(frames):
                inclusive[frame] += n
            if frames:
                own[frames[-1]] += n
    if not total:
        return "  (no samples)\n"
    lines = [f"  {total} busy samples; inclusive:"]
    lines += [f"    {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines.append("  self:")
    lines += [f"    {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines) + "\n"


def _one(d: Deployment, name: str, mix: Mix, seconds: float, profile: Path | None) -> str:
    assert d.server is not None
    pids = d.server_pids()
    workers = pids[1:-1]
    before = cpu_seconds(pids), cpu_seconds(d.database_pids()), time.process_time()
    spies = []
    t0 = time.perf_counter()
    if profile is not None:
        spies = [_spy(w, profile / f"{name}-{w}.txt", seconds - 1) for w in workers]
    samples = mix(d, seconds, None, Tally())
    wall = time.perf_counter() - t0
    for spy in spies:
        spy.wait(timeout=60)
    after = cpu_seconds(pids), cpu_seconds(d.database_pids()), time.process_time()
    stats = Stats.of(samples, t0 + WARM_UP * seconds, t0 + seconds)
    ok = sum(sum(s.ok) for s in samples)
    server = {p: after[0][p] - before[0].get(p, 0.0) for p in after[0]}
    database = sum(after[1][p] - before[1].get(p, 0.0) for p in after[1])
    used = sum(server.values()) + database
    out = [
        f"## {name}: {ok / wall:,.1f} ops/s (wall), p50/p99 {stats.p50 * 1e3:.1f}/"
        f"{stats.p99 * 1e3:.1f} ms, {stats.errors} errors, "
        f"{1e3 * used / max(ok, 1):.3f} ms of CPU an operation (server + database)",
    ]
    labels = {pids[0]: "securebox CLI", pids[-1]: "uvicorn supervisor"}
    for pid, cpu in server.items():
        out.append(f"  {labels.get(pid, 'worker'):>20} {pid}: {cpu / wall:.2f} cores")
    out.append(f"  {'database backends':>20}: {database / wall:.2f} cores")
    out.append(f"  {'load client':>20}: {(after[2] - before[2]) / wall:.2f} cores")
    with open("/proc/loadavg", encoding="ascii") as load:
        out.append(f"  {'load average':>20}: {load.read().split()[0]}")
    text = "\n".join(out) + "\n"
    if profile is not None:
        text += _fold([profile / f"{name}-{w}.txt" for w in workers], 40)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mix", default="healthz,home", help=f"comma-separated: {list(SHORT)}")
    parser.add_argument("--seconds", type=float, default=10.0, help="per mix")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--profile", action="store_true", help="py-spy on every worker")
    parser.add_argument(
        "--source",
        type=Path,
        help="the server's src folder (another checkout's, for a before/after): first on "
        "the server's PYTHONPATH",
    )
    args = parser.parse_args(argv)
    if args.source is not None:
        _serve_from(args.source.resolve())
    names = [n.strip() for n in args.mix.split(",") if n.strip()]
    unknown = [n for n in names if n not in SHORT]
    if unknown:
        parser.error(f"unknown mix {unknown}")
    with (
        tempfile.TemporaryDirectory(prefix="securebox-profile-") as home,
        _database(args.database) as url,
        deployment(
            url,
            Path(home),
            workers=args.workers,
            users=POST_LANES,
            lanes=GET_LANES,
            documents=24,
        ) as d,
    ):
        folder = Path(home) / "profiles"
        folder.mkdir()
        for name in names:
            mix = next(spec.run for spec in MIXES if spec.key == SHORT[name])
            text = _one(d, name, mix, args.seconds, folder if args.profile else None)
            print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
