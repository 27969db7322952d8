"""The Markdown report of a :class:`~loadtest.run.Run`."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime

from loadtest.run import MixResult, Run

__all__ = ["markdown"]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def _ratio(result: MixResult, run: Run, health: dict[str, tuple[float, float]]) -> str:
    """The rate against its baseline, per wall second and per CPU second."""
    if result.baseline == "bare argon2id":
        wall, cpu = run.bare_argon2, run.bare_argon2_cpu
    elif result.baseline == "/healthz" and result.database in health:
        wall, cpu = health[result.database]
    else:
        return ""
    return f"{result.stats.rate / wall:.2f}x (CPU: {result.per_cpu / cpu:.2f}x) {result.baseline}"


def markdown(run: Run) -> str:
    health = {
        m.database: (m.stats.rate, m.per_cpu) for m in run.mixes if m.mix.startswith("/healthz")
    }
    load = os.getloadavg()
    lines = [
        "# securebox load run",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores, load average before the "
        f"report {load[0]:.1f}; `securebox serve --workers {run.workers}` on loopback; "
        f"each mix {run.seconds:.1f} s (the first 15 % not counted), closed model.",
        "",
        f"Bare argon2id (argon2-cffi, PROFILE_2026, {run.workers} process(es) at once): "
        f"**{run.bare_argon2:.1f} verifications/s**, {run.bare_argon2_cpu:.1f} per CPU "
        "second.",
        "",
        "| database | mix | ops/s | p50 ms | p95 ms | p99 ms | errors | server CPU | "
        "database CPU | client CPU | ops per CPU-s | against |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in run.mixes:
        s = m.stats
        lines.append(
            f"| {m.database} | {m.mix} | {s.rate:.1f} | {_ms(s.p50)} | {_ms(s.p95)} | "
            f"{_ms(s.p99)} | {s.errors}/{s.operations} | {m.server_cpu:.2f} | "
            f"{m.database_cpu:.2f} | {m.client_cpu:.2f} | {m.per_cpu:.1f} | "
            f"{_ratio(m, run, health)} |"
        )
    failures = [(m, why, n) for m in run.mixes for why, n in m.stats.failures]
    if failures:
        lines += ["", "Failures (status or exception, count):", ""]
        lines += [f"- {m.database} {m.mix}: {why} x{n}" for m, why, n in failures]
    lines += [
        "",
        "CPU columns are cores (CPU seconds over the mix's wall seconds): the server's "
        "processes, the PostgreSQL backends of its database (SQLite: inside the server), "
        "the load client's process. Ops per CPU-s: the operations that succeeded over the "
        "server's and the database's CPU seconds (the machine is shared: the wall rates "
        "depend on the neighbours, the CPU rates much less).",
        "",
        "## Exactness after the run",
        "",
        "| database | check | expected | found | |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {c.database} | {c.what} | {c.expected} | {c.found} | {'ok' if c.ok else 'FAILED'} |"
        for c in run.checks
    ]
    return "\n".join(lines) + "\n"
