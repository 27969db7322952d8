"""``Securebox.from_policy`` without a ``clock`` decides on a clock that never goes back
(ADR 0042): over a SQL store its high-water mark is shared through the database (another
process's later mark holds this one's time up), over any other store it is kept in memory;
a clock given is used as it is. Before, the default was the bare system clock: a portal
using the library alone revived expired grants when the host clock stepped back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from securebox_auth import Securebox
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.monotonic import MonotonicClock
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.sql.clock_mark import SqlClockMarks
from securebox_auth.stores.sql.store import SqlStore
from tests.shell.portal import portal_policy
from tests.stores.conftest import AUDIT_KEY


def _securebox(store: MemoryStore | SqlStore, **options: object) -> Securebox:
    keys = DerivedKeys.generate()
    return Securebox.from_policy(portal_policy(), store=store, keys=keys, **options)  # type: ignore[arg-type]


def test_over_a_sql_store_the_mark_is_shared_through_the_database(sql_engine: Engine) -> None:
    box = _securebox(SqlStore(sql_engine, audit_key=AUDIT_KEY))
    assert isinstance(box.clock, MonotonicClock)
    marks = SqlClockMarks(sql_engine)
    first = box.clock.now()
    stored = marks.read()
    assert stored is not None  # the first reading wrote this process's mark
    assert stored.at <= first
    # another process's clock ran ahead: this one's time does not fall behind it
    ahead = datetime.now(UTC) + timedelta(hours=1)
    marks.advance(ahead, stored.epoch)
    later = _securebox(SqlStore(sql_engine, audit_key=AUDIT_KEY))
    assert later.clock.now() >= ahead


def test_over_another_store_the_mark_is_the_process_own() -> None:
    box = _securebox(MemoryStore())
    assert isinstance(box.clock, MonotonicClock)
    assert box.clock.marks is None
    assert box.clock.now() <= box.clock.now()


def test_a_clock_given_is_used_as_it_is() -> None:
    class Fixed:
        def now(self) -> datetime:
            return datetime(2026, 12, 6, tzinfo=UTC)

    given = Fixed()
    assert _securebox(MemoryStore(), clock=given).clock is given
