"""The load driver (``loadtest``, issue 19, ADR 0044) end to end: a real
``securebox serve`` on SQLite, every mix for a fraction of a second, the report's rows and
its exactness checks (sessions, documents, the audit chain by ``securebox audit verify``).
The figures themselves are not asserted: the machine is shared; ``nox -s load`` takes them."""

from __future__ import annotations

import time
from pathlib import Path

from loadtest.report import markdown
from loadtest.run import MIXES, load_run


def test_a_short_run_on_sqlite_reports_every_mix_with_exact_counts(tmp_path: Path) -> None:
    """ASVS 5.0 V15.1.3 (the resource-demanding functions measured: the argon2id login,
    downloads, ingestion) and V16.4.2 (the audit chain verifies after the load); PSD2 RTS
    art. 22 (no session nor document lost or doubled under concurrent use)."""
    started = time.monotonic()
    run = load_run(["sqlite"], 0.5, 1, tmp_path, documents=1)
    report = markdown(run)

    assert [m.mix for m in run.mixes] == [name for name, _, _ in MIXES]
    for mix in run.mixes:
        assert mix.succeeded > 0, f"{mix.mix}: nothing succeeded"
        assert mix.stats.errors == 0, f"{mix.mix}: {mix.stats.failures}"
        assert f"| SQLite | {mix.mix} |" in report
    assert run.bare_argon2 > 0
    assert [(c.what, c.ok) for c in run.checks] == [
        ("sessions == successful logins", True),
        ("documents == acknowledged publications", True),
        ("securebox audit verify", True),
    ], run.checks
    assert "FAILED" not in report
    print(f"{time.monotonic() - started:.1f} s\n{report}")
