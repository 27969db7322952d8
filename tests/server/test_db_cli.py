"""``securebox db`` with both histories in one database: the library's store and the
server's tables. Before, the library's ``db check`` listed the server's tables as
``remove_table`` once the server had run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from securebox_auth.cli import main
from securebox_auth.stores.sql import migrate as store_migrate
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.db import migrate as server_migrate
from securebox_server.settings import Settings
from securebox_server.wiring import build_securebox


def test_upgrade_check_downgrade_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = ["--url", f"sqlite:///{tmp_path}/both.db"]
    assert main(["db", "upgrade", *url]) == 0
    out = capsys.readouterr().out
    assert f"at revision {store_migrate.head()}" in out
    assert f"server tables at revision {server_migrate.head()}" in out
    assert main(["db", "check", *url]) == 0
    out = capsys.readouterr().out
    assert "remove_table" not in out
    assert "schema ok" in out
    assert "Server tables schema ok" in out
    assert main(["db", "check", "--history", "store", *url]) == 0
    assert "remove_table" not in capsys.readouterr().out
    engine = create_engine(url[1])
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE rate_limit_counters"))
    finally:
        engine.dispose()
    assert main(["db", "check", *url]) == 1
    assert "add_table rate_limit_counters" in capsys.readouterr().out


def test_a_database_the_server_migrated_checks_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reported bug: the server migrates both histories at start-up; the library's
    check then saw the server's tables (and version table) as extra."""
    database = f"sqlite:///{tmp_path}/served.db"
    build_securebox(Settings(database_url=database, demo=True))
    assert main(["db", "check", "--history", "store", "--url", database]) == 0
    assert "differs" not in capsys.readouterr().out
    assert main(["db", "check", "--url", database]) == 0


def test_a_store_only_database_is_fine_and_downgrades_name_their_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--url", f"sqlite:///{tmp_path}/store.db"]
    assert main(["db", "upgrade", "--history", "store", *url]) == 0
    assert "server tables" not in capsys.readouterr().out
    assert main(["db", "check", *url]) == 0
    assert "no server tables" in capsys.readouterr().out
    assert main(["db", "upgrade", *url]) == 0
    capsys.readouterr()
    assert main(["db", "downgrade", "--revision", "-1", "--yes", *url]) == 2
    assert "--history" in capsys.readouterr().err
    assert main(["db", "downgrade", "--revision", "base", "--yes", *url]) == 0
    out = capsys.readouterr().out
    assert "server tables at revision base (empty)" in out
    assert out.rstrip().endswith("at revision base (empty)")
    assert main(["db", "check", *url]) == 1
