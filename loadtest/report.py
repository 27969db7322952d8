"""The Markdown report of a :class:`~loadtest.run.Run`."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime

from loadtest.run import MixResult, Run

__all__ = ["markdown"]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def _ratio(result: MixResult, run: Run, baselines: dict[tuple[str, str], MixResult]) -> str:
    """The rate against its baseline, per wall second and per CPU second."""
    if result.baseline == "bare argon2id":
        if not run.bare_argon2:
            return ""
        wall, cpu = run.bare_argon2, run.bare_argon2_cpu
    elif (result.database, result.baseline) in baselines:
        base = baselines[result.database, result.baseline]
        wall, cpu = base.stats.rate, base.per_cpu
    else:
        return ""
    if not (wall > 0 and cpu > 0):
        return ""
    return f"{result.stats.rate / wall:.2f}x (CPU: {result.per_cpu / cpu:.2f}x) {result.baseline}"


def _mb(size: int) -> str:
    return f"{size / 2**20:.0f}"


def _targets(run: Run, baselines: dict[tuple[str, str], MixResult]) -> list[str]:
    """Issue 19's targets, each a ratio in this run (wall; the CPU ratio beside it)."""
    lines = []
    for m in run.mixes:
        s = m.stats
        base = baselines.get((m.database, m.baseline))
        if m.key in ("login", "login2fa") and run.bare_argon2:
            lines.append(
                f"- {m.database} {m.mix}: {s.rate:.1f}/s = {s.rate / run.bare_argon2:.2f}x the "
                f"bare argon2id rate (target >= 0.9x; per CPU second "
                f"{m.per_cpu / run.bare_argon2_cpu:.2f}x)"
            )
        elif m.key == "home" and base is not None and base.stats.rate > 0:
            lines.append(
                f"- {m.database} home page among {run.documents:,} documents: {s.rate:.0f}/s "
                f"(target >= 2,000), p99 {_ms(s.p99)} ms (target <= 20), "
                f"{s.rate / base.stats.rate:.2f}x `/healthz` ({base.stats.rate:.0f}/s, p99 "
                f"{_ms(base.stats.p99)} ms)"
            )
        elif m.key == "download" and base is not None and base.stats.rate > 0:
            lines.append(
                f"- {m.database} downloads: {s.rate:.1f}/s = {s.rate / base.stats.rate:.2f}x the "
                f"static endpoint's {base.stats.rate:.1f}/s (target >= 0.5x); server RSS "
                f"{_mb(m.rss_before)} MB before, {_mb(m.rss_peak)} MB at its peak (static "
                f"server: {_mb(base.rss_before)} -> {_mb(base.rss_peak)} MB)"
            )
        elif m.key.startswith("ingestion"):
            per = f" ({s.rate:.1f} requests/s of {m.per_op} documents)" if m.per_op > 1 else ""
            lines.append(
                f"- {m.database} {m.mix}: {s.rate * m.per_op:.1f} documents/s{per} (target >= 200)"
            )
    return lines


def markdown(run: Run) -> str:
    baselines = {(m.database, m.mix): m for m in run.mixes}
    baselines |= {(m.database, "/healthz"): m for m in run.mixes if m.key == "healthz"}
    baselines |= {(m.database, "static file"): m for m in run.mixes if m.key == "static"}
    load = os.getloadavg()
    opened = sorted({(m.key, m.rate) for m in run.mixes if m.rate is not None})
    model = (
        "open model for "
        + ", ".join(
            f"{key} ({rate:g} arrivals/s, latency from the intended time)" for key, rate in opened
        )
        + ", closed for the others"
        if opened
        else "closed model"
    )
    took = ", ".join(f"{db} {s:.0f} s" for db, s in run.databases_s.items())
    lines = [
        "# securebox load run",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores, load average before the "
        f"report {load[0]:.1f}; `securebox serve --workers {run.workers}` on loopback; "
        f"each mix {run.seconds:.1f} s (the first 15 % not counted), {model}; "
        f"{run.documents:,} documents behind the pages (database ready in: {took}).",
        "",
    ]
    if run.bare_argon2:
        lines += [
            f"Bare argon2id (argon2-cffi, PROFILE_2026, {run.workers} process(es) at once): "
            f"**{run.bare_argon2:.1f} verifications/s**, {run.bare_argon2_cpu:.1f} per CPU "
            "second.",
            "",
        ]
    lines += [
        "| database | mix | ops/s | p50 ms | p95 ms | p99 ms | errors | server CPU | "
        "database CPU | client CPU | ops per CPU-s | server RSS MB (before, peak) | against |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in run.mixes:
        s = m.stats
        lines.append(
            f"| {m.database} | {m.mix} | {s.rate:.1f} | {_ms(s.p50)} | {_ms(s.p95)} | "
            f"{_ms(s.p99)} | {s.errors}/{s.operations} | {m.server_cpu:.2f} | "
            f"{m.database_cpu:.2f} | {m.client_cpu:.2f} | {m.per_cpu:.1f} | "
            f"{_mb(m.rss_before)}, {_mb(m.rss_peak)} | {_ratio(m, run, baselines)} |"
        )
    failures = [(m, why, n) for m in run.mixes for why, n in m.stats.failures]
    if failures:
        lines += ["", "Failures (status or exception, count):", ""]
        lines += [f"- {m.database} {m.mix}: {why} x{n}" for m, why, n in failures]
    notes = [f"- {m.database} {m.mix}: {m.note}" for m in run.mixes if m.note]
    if notes:
        lines += ["", "Notes:", "", *notes]
    targets = _targets(run, baselines)
    if targets:
        lines += ["", "## Issue 19's targets in this run", "", *targets]
    lines += [
        "",
        "CPU columns are cores (CPU seconds over the mix's wall seconds): the serving "
        "processes (the static file server's for the static mix), the PostgreSQL backends "
        "of its database (SQLite: inside the server), the load client's process. Ops per "
        "CPU-s: the operations that succeeded over the serving processes' and the "
        "database's CPU seconds (the machine is shared: the wall rates depend on the "
        "neighbours, the CPU rates much less). RSS: the serving processes' resident memory "
        "summed, sampled every 50 ms during the mix.",
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
