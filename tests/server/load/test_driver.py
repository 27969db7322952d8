"""The load driver (``loadtest``, issue 19, ADRs 0044 and 0053) end to end: a real
``securebox serve`` on SQLite, every mix for a fraction of a second (the receivers' feed in
the open model), the report's rows and its exactness checks (sessions, documents,
notifications, step-up executions and their single use, the audit chain by ``securebox
audit verify``). Its options and parts: ``test_options.py``. The figures themselves are
not asserted: the machine is shared; ``nox -s load`` takes them."""

from __future__ import annotations

import time
from pathlib import Path

from loadtest.report import markdown
from loadtest.run import MIXES, load_run

EVERY_CHECK = [
    "live sessions == successful logins",
    "sessions == successful logins + step-up rotations",
    "documents == acknowledged publications + bulk rows",
    "notifications == published documents x 1 entitled user(s)",
    "payees added (audit payee.add) == acknowledged step-up executions",
    "step-up grants used once: replays refused == executions",
    "securebox audit verify",
]


def test_a_short_run_on_sqlite_reports_every_mix_with_exact_counts(tmp_path: Path) -> None:
    """ASVS 5.0 V15.1.3 (the resource-demanding functions measured: the argon2id login, the
    full login, downloads against a static endpoint, ingestion) and V16.4.2 (the audit chain
    verifies after the load); PSD2 RTS art. 22 (no session nor document lost or doubled
    under concurrent use) and art. 5 (each payee step-up's grant used once)."""
    started = time.monotonic()
    run = load_run(
        ["sqlite"], 0.5, 1, tmp_path, documents=30, rate={"feed": 30}, second_factor_users=6
    )
    report = markdown(run)

    assert [m.mix for m in run.mixes] == [m.name for m in MIXES]
    for mix in run.mixes:
        assert mix.succeeded > 0, f"{mix.mix}: nothing succeeded"
        assert mix.stats.errors == 0, f"{mix.mix}: {mix.stats.failures}"
        assert f"| SQLite | {mix.mix} |" in report
        assert mix.rss_peak >= mix.rss_before > 0, mix
    assert run.bare_argon2 > 0
    assert [m.rate for m in run.mixes if m.rate] == [30]  # the feed in the open model
    assert [(c.what, c.ok) for c in run.checks] == [(c, True) for c in EVERY_CHECK], run.checks
    found = {c.what: c.found for c in run.checks}
    assert int(found["documents == acknowledged publications + bulk rows"]) >= 30
    assert "FAILED" not in report
    assert "x the static endpoint's" in report
    assert "home page among 30 documents" in report
    print(f"{time.monotonic() - started:.1f} s\n{report}")
