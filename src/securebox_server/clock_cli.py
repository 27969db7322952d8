"""The ``securebox clock`` commands (parser: :mod:`securebox_auth.cli.clock`): show and
reset the high-water mark of time the server's processes share (ADR 0042)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import SystemClock, require_aware
from securebox_auth.errors import InvalidTime, MalformedInput
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.stores.sql.clock_mark import SqlClockMarks
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.box.base import audit_actor
from securebox_server.settings import load_settings
from securebox_server.wiring import load_master_key

__all__ = ["RESET_ACTION", "reset_mark", "run"]

#: The audit action of an operator's reset.
RESET_ACTION = "clock.mark.reset"


def reset_mark(store: SqlStore, to: datetime, *, actor: str, reason: str) -> None:
    """Set the shared mark to ``to`` in a new epoch, with its audit event, in one
    transaction."""
    if not reason.strip() or len(reason) > 200:
        raise MalformedInput("a reason is 1-200 characters")
    marks = SqlClockMarks(store.engine)
    before = marks.read()
    event = AuditEvent.make(
        SystemClock().now(),
        RESET_ACTION,
        actor=audit_actor(actor),
        subject="clock",
        outcome="reset",
        details={
            "from": "-" if before is None else before.at.isoformat(),
            "to": require_aware(to, "to").isoformat(),
            "reason": reason,
        },
    )

    def write(conn: Connection) -> None:
        marks.reset_on(conn, to)

    store.commit([], [event], also=write)


def _parse(value: str | None) -> datetime:
    if value is None:
        return SystemClock().now()
    try:
        return require_aware(datetime.fromisoformat(value), "--to")
    except ValueError:
        raise InvalidTime("--to: an ISO-8601 time with an offset") from None


def run(args: argparse.Namespace) -> int:
    extra = {"SECUREBOX_SETTINGS": str(Path(args.settings).resolve())} if args.settings else {}
    settings = load_settings({**os.environ, **extra})
    keys = load_master_key(settings)
    store = open_sql_store(settings.database_url, audit_keys=keys.audit_keyring())
    try:
        if args.command == "reset":
            try:
                to = _parse(args.to)
                reset_mark(store, to, actor=f"operator/{args.actor}", reason=args.reason)
            except (InvalidTime, MalformedInput) as exc:
                print(f"securebox: error: {exc}", file=sys.stderr)
                return 2
            print(f"clock mark reset to {to.astimezone(UTC).isoformat()}")
            return 0
        mark = SqlClockMarks(store.engine).read()
        shown = "none" if mark is None else f"{mark.at.isoformat()} (epoch {mark.epoch})"
        print(f"mark: {shown}")
        print(f"host: {SystemClock().now().isoformat()}")
        return 0
    finally:
        store.engine.dispose()
