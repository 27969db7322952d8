"""``securebox db``: schema migrations of the SQL stores.

    securebox db upgrade                 # to the newest revision
    securebox db downgrade --revision base [--yes]   # asks first unless --yes
    securebox db check                   # exit 1 unless the schema is exactly the expected one

The database is ``--url`` or ``SECUREBOX_DATABASE_URL`` (default: ``sqlite:///securebox.sqlite3``).
SQLAlchemy is imported only when a ``db`` command runs, so ``securebox`` itself works without
the ``sql`` extra.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from securebox_auth.errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["register"]

_EXTRA = "the db commands need the sql extra: pip install 'securebox[sql]'"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="database schema: upgrade, downgrade, check")
    commands = db.add_subparsers(title="db commands", metavar="COMMAND", required=True)
    url_help = "database URL (default: $SECUREBOX_DATABASE_URL, else sqlite:///securebox.sqlite3)"

    up = commands.add_parser("upgrade", help="migrate the schema up (to the newest by default)")
    up.add_argument("--url", help=url_help)
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.set_defaults(handler=_upgrade)

    down = commands.add_parser("downgrade", help="migrate the schema down (base: drop it all)")
    down.add_argument("--url", help=url_help)
    down.add_argument(
        "--revision", required=True, help="target revision: an id, -1 for one step, or base"
    )
    down.add_argument(
        "--yes",
        action="store_true",
        help="do not ask: a downgrade drops tables and their data",
    )
    down.set_defaults(handler=_downgrade)

    check = commands.add_parser("check", help="is the schema at the newest revision and exact?")
    check.add_argument("--url", help=url_help)
    check.set_defaults(handler=_check)


def _engine(args: argparse.Namespace) -> Engine | None:
    revision = getattr(args, "revision", None)
    if revision is not None and not revision.strip():
        raise ConfigurationError("--revision is empty: give a revision, head or base")
    return configured_engine(args.url, needs=_EXTRA)


def configured_engine(url: str | None, *, needs: str) -> Engine | None:
    """The engine of ``url`` (default: ``SECUREBOX_DATABASE_URL``, else the SQLite file), or
    ``None`` after printing ``needs`` when the ``sql`` extra is not installed."""
    try:
        from securebox_auth.stores.sql.engine import (  # noqa: PLC0415 - optional extra
            DatabaseSettings,
            create_engine,
            database_url,
        )
    except ImportError:
        print(f"securebox: error: {needs}", file=sys.stderr)
        return None
    if url is not None and not url.strip():
        raise ConfigurationError("--url is empty: give a database URL, or leave --url out")
    return create_engine(DatabaseSettings(url=url or database_url()))


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _failed(engine: Engine, exc: Exception) -> int:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    print(f"securebox: error: {_shown(engine)}: {detail}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace, action: Callable[[Engine], int]) -> int:
    """Run ``action`` on the configured database; database errors are reported, not raised."""
    engine = _engine(args)
    if engine is None:
        return 2
    from alembic.util import CommandError  # noqa: PLC0415 - optional extra
    from sqlalchemy.exc import DBAPIError  # noqa: PLC0415 - optional extra

    try:
        return action(engine)
    except (DBAPIError, CommandError) as exc:
        return _failed(engine, exc)
    finally:
        engine.dispose()


def _upgrade(args: argparse.Namespace) -> int:
    def action(engine: Engine) -> int:
        from securebox_auth.stores.sql import migrate  # noqa: PLC0415 - optional extra

        migrate.upgrade(engine, args.revision)
        print(f"{_shown(engine)}: at revision {migrate.current(engine)}")
        return 0

    return _run(args, action)


def _confirmed(engine: Engine, revision: str) -> bool:
    """A downgrade drops tables: ask on a terminal, refuse without one (``--yes`` skips)."""
    question = (
        f"Downgrading {_shown(engine)} to {revision} drops tables and their data. "
        "Type 'yes' to go on: "
    )
    if not sys.stdin.isatty():
        print(
            "securebox: error: a downgrade drops tables and their data; "
            "run it on a terminal to be asked, or pass --yes",
            file=sys.stderr,
        )
        return False
    try:
        answer = input(question)
    except EOFError:
        answer = ""
    if answer.strip().lower() != "yes":
        print("securebox: downgrade cancelled", file=sys.stderr)
        return False
    return True


def _downgrade(args: argparse.Namespace) -> int:
    def action(engine: Engine) -> int:
        from securebox_auth.stores.sql import migrate  # noqa: PLC0415 - optional extra

        if not args.yes and not _confirmed(engine, args.revision):
            return 2
        migrate.downgrade(engine, args.revision)
        print(f"{_shown(engine)}: at revision {migrate.current(engine) or 'base (empty)'}")
        return 0

    return _run(args, action)


def _check(args: argparse.Namespace) -> int:
    def action(engine: Engine) -> int:
        from securebox_auth.stores.sql import migrate  # noqa: PLC0415 - optional extra

        status = migrate.check(engine)
        at = status.revision or "base (empty)"
        print(f"{_shown(engine)}: at revision {at}, newest {status.head}")
        for difference in status.differences:
            print(f"  differs: {difference}")
        if status.ok:
            print("schema ok")
            return 0
        if status.revision != status.head:
            print("run `securebox db upgrade`")
        return 1

    return _run(args, action)
