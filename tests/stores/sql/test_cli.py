"""``securebox db upgrade | downgrade | check``."""

from __future__ import annotations

import pytest

from securebox_auth.cli import main
from securebox_auth.stores.sql import migrate
from securebox_auth.stores.sql.engine import DATABASE_URL_ENV


def test_db_is_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "db" in capsys.readouterr().out


def test_upgrade_check_downgrade(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--url", empty_database_url]
    assert main(["db", "check", *url]) == 1
    assert "run `securebox db upgrade`" in capsys.readouterr().out
    assert main(["db", "upgrade", *url]) == 0
    assert f"at revision {migrate.head()}" in capsys.readouterr().out
    assert main(["db", "check", *url]) == 0
    assert "schema ok" in capsys.readouterr().out
    assert main(["db", "downgrade", "--revision", "base", "--yes", *url]) == 0
    assert "base (empty)" in capsys.readouterr().out
    assert main(["db", "check", *url]) == 1


def test_the_url_comes_from_the_environment(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, sqlite_url)
    assert main(["db", "check"]) == 0
    assert sqlite_url.removeprefix("sqlite://") in capsys.readouterr().out


def test_a_downgrade_names_its_target(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["db", "downgrade"])
    assert "--revision" in capsys.readouterr().err


def test_errors_are_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "check", "--url", "mysql://h/db"]) == 2
    assert "unsupported database" in capsys.readouterr().err
    unreachable = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    assert main(["db", "upgrade", "--url", unreachable]) == 2
    err = capsys.readouterr().err
    assert "securebox: error: postgresql+psycopg://nobody@127.0.0.1:1/none" in err


def test_a_downgrade_without_yes_and_without_a_terminal_is_refused(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--url", empty_database_url]
    assert main(["db", "upgrade", *url]) == 0
    capsys.readouterr()
    # pytest's standard input is not a terminal: nobody can be asked, so nothing is dropped
    assert main(["db", "downgrade", "--revision", "base", *url]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["db", "check", *url]) == 0


def test_a_downgrade_asks_on_a_terminal(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ["--url", empty_database_url]
    assert main(["db", "upgrade", *url]) == 0
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _prompt: "no")
    assert main(["db", "downgrade", "--revision", "base", *url]) == 2
    assert "cancelled" in capsys.readouterr().err
    assert main(["db", "check", *url]) == 0
    monkeypatch.setattr("builtins.input", lambda _prompt: "yes")
    assert main(["db", "downgrade", "--revision", "base", *url]) == 0
    assert main(["db", "check", *url]) == 1
