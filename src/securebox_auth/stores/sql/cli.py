"""``securebox db``: schema migrations of the SQL stores.

    securebox db upgrade                 # to the newest revision
    securebox db downgrade --revision base [--yes]   # asks first unless --yes
    securebox db check                   # exit 1 unless the schema is exactly the expected one

Two histories may share the database: the library's store (``store``) and the reference
server's own tables (``server``: rate limits, :mod:`securebox_server.db.migrate`, its own
version table). ``--history all`` (the default) handles both: ``upgrade`` migrates both,
``check`` checks the store and, once they exist, the server's tables (each history ignores
the other's tables), ``downgrade --revision base`` drops both, and another revision goes to
the history that knows it. ``--history store`` or ``server`` handles one.

The database is ``--url`` or ``SECUREBOX_DATABASE_URL`` (default: ``sqlite:///securebox.sqlite3``).
SQLAlchemy is imported only when a ``db`` command runs, so ``securebox`` itself works without
the ``sql`` extra.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Final

from securebox_auth.errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["register"]

_EXTRA = "the db commands need the sql extra: pip install 'securebox[sql]'"
#: (name, module): each module has upgrade, downgrade, current, check and head.
_HISTORIES: Final = (
    ("store", "securebox_auth.stores.sql.migrate"),
    ("server", "securebox_server.db.migrate"),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="database schema: upgrade, downgrade, check")
    commands = db.add_subparsers(title="db commands", metavar="COMMAND", required=True)
    url_help = "database URL (default: $SECUREBOX_DATABASE_URL, else sqlite:///securebox.sqlite3)"
    history_help = "store (the library's tables), server (the reference server's), or all"

    def histories(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--history", choices=("all", "store", "server"), default="all", help=history_help
        )

    up = commands.add_parser("upgrade", help="migrate the schema up (to the newest by default)")
    up.add_argument("--url", help=url_help)
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    histories(up)
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
    histories(down)
    down.set_defaults(handler=_downgrade)

    check = commands.add_parser("check", help="is the schema at the newest revision and exact?")
    check.add_argument("--url", help=url_help)
    histories(check)
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


def _histories(choice: str) -> list[tuple[str, ModuleType]]:
    """The chosen histories' modules; ``all`` leaves out the server's when its package is
    not installed."""
    found: list[tuple[str, ModuleType]] = []
    for name, module in _HISTORIES:
        if choice not in ("all", name):
            continue
        try:
            found.append((name, import_module(module)))
        except ImportError:
            if choice == name:
                raise ConfigurationError(f"the {name} history is not installed") from None
    return found


def _foreign(choice: str) -> tuple[str, ...]:
    """The server's tables, which the store's check leaves out."""
    server = [module for name, module in _histories("all") if name == "server"]
    return tuple(server[0].TABLES) if server else ()


def _at(engine: Engine, name: str, revision: str | None) -> str:
    what = "" if name == "store" else "server tables "
    return f"{_shown(engine)}: {what}at revision {revision or 'base (empty)'}"


def _upgrade(args: argparse.Namespace) -> int:
    def action(engine: Engine) -> int:
        chosen = _histories(args.history)
        revision = args.revision
        if args.history == "all" and revision != "head":
            chosen = [(name, m) for name, m in chosen if _knows(m, revision)]
            if not chosen:
                raise ConfigurationError(f"--revision {revision}: no such revision")
        for name, migrate in chosen:
            migrate.upgrade(engine, revision)
            print(_at(engine, name, migrate.current(engine)))
        return 0

    return _run(args, action)


def _knows(migrate: ModuleType, revision: str) -> bool:
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - optional extra
    from alembic.util import CommandError  # noqa: PLC0415 - optional extra

    try:
        scripts = ScriptDirectory(str(migrate.SCRIPTS))
        return scripts.get_revision(revision) is not None
    except CommandError:
        return False


def _downgrade_targets(args: argparse.Namespace) -> list[tuple[str, ModuleType]]:
    chosen = _histories(args.history)
    if args.history != "all" or args.revision == "base":
        return list(reversed(chosen))  # the server's tables first
    knowing = [(name, m) for name, m in chosen if _knows(m, args.revision)]
    if len(knowing) != 1:
        raise ConfigurationError(
            f"--revision {args.revision}: name the history (--history store or server)"
        )
    return knowing


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
        targets = _downgrade_targets(args)
        if not args.yes and not _confirmed(engine, args.revision):
            return 2
        for name, migrate in targets:
            migrate.downgrade(engine, args.revision)
            print(_at(engine, name, migrate.current(engine)))
        return 0

    return _run(args, action)


def _check(args: argparse.Namespace) -> int:
    def action(engine: Engine) -> int:
        ok = True
        for name, migrate in _histories(args.history):
            if name == "store":
                status = migrate.check(engine, foreign=_foreign(args.history))
            elif args.history == "all" and migrate.current(engine) is None:
                print(f"{_shown(engine)}: no server tables (the server creates them)")
                continue
            else:
                status = migrate.check(engine)
            what = "" if name == "store" else "server tables "
            at = status.revision or "base (empty)"
            print(f"{_shown(engine)}: {what}at revision {at}, newest {status.head}")
            for difference in status.differences:
                print(f"  differs: {difference}")
            if status.ok:
                print(f"{what}schema ok".capitalize() if what else "schema ok")
                continue
            ok = False
            if status.revision != status.head:
                print("run `securebox db upgrade`")
        return 0 if ok else 1

    return _run(args, action)
