"""The Markdown report of a :class:`~loadtest.run.Run`."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime

from loadtest.run import MixResult, Run

__all__ = ["markdown"]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def _ratio(result: MixResult, run: Run, health: dict[str, float]) -> str:
    if result.baseline == "bare argon2id":
        return f"{result.stats.rate / run.bare_argon2:.2f}x bare argon2id"
    if result.baseline == "/healthz" and health.get(result.database):
        return f"{result.stats.rate / health[result.database]:.2f}x /healthz"
    return ""


def markdown(run: Run) -> str:
    health = {m.database: m.stats.rate for m in run.mixes if m.mix.startswith("/healthz")}
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
        f"**{run.bare_argon2:.1f} verifications/s**.",
        "",
        "| database | mix | ops/s | p50 ms | p95 ms | p99 ms | errors | server CPU | "
        "database CPU | client CPU | against |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in run.mixes:
        s = m.stats
        lines.append(
            f"| {m.database} | {m.mix} | {s.rate:.1f} | {_ms(s.p50)} | {_ms(s.p95)} | "
            f"{_ms(s.p99)} | {s.errors}/{s.operations} | {m.server_cpu:.2f} | "
            f"{m.database_cpu:.2f} | {m.client_cpu:.2f} | {_ratio(m, run, health)} |"
        )
    failures = [(m, why, n) for m in run.mixes for why, n in m.stats.failures]
    if failures:
        lines += ["", "Failures (status or exception, count):", ""]
        lines += [f"- {m.database} {m.mix}: {why} x{n}" for m, why, n in failures]
    lines += [
        "",
        "CPU columns are cores (CPU seconds over the mix's wall seconds): the server's "
        "processes, the PostgreSQL backends of its database (SQLite: inside the server), "
        "the load client's process.",
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
