"""Named leases (table ``job_leases``): one worker at a time runs a periodic job, or (on
SQLite) sends from the outbox.

:meth:`Leases.take` is one atomic statement on either database: the row's holder becomes
this worker when the lease is free, ran out, or is already this worker's (a renewal), else
nothing changes; a missing row is inserted (of two workers inserting it, the primary key
lets one win). A worker killed while it holds a lease holds it until ``lease_until``; then
another takes over. Times come from the caller (the app's clock).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from securebox_auth.errors import MalformedInput
from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_server.db.schema import JOB_LEASES

__all__ = ["Leases"]

_T = JOB_LEASES


class Leases:
    """The named leases of the worker ``holder`` (an id unique to the process)."""

    def __init__(self, engine: Engine, holder: str) -> None:
        if not 1 <= len(holder) <= 64:
            raise MalformedInput("a worker id is 1 to 64 characters")
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._engine = engine
        self.holder = holder

    def take(self, name: str, now: datetime, ttl: timedelta) -> bool:
        """Hold ``name`` until ``now + ttl``; ``False`` when another worker holds it."""
        free = sa.or_(_T.c.lease_until.is_(None), _T.c.lease_until < now)
        mine = _T.c.holder == self.holder
        with self._writer.begin() as conn:
            done = conn.execute(
                _T.update()
                .where(_T.c.name == name, sa.or_(free, mine))
                .values(holder=self.holder, lease_until=now + ttl)
            )
            if done.rowcount:
                return True
            if conn.execute(sa.select(_T.c.name).where(_T.c.name == name)).first():
                return False
        try:
            with self._writer.begin() as conn:
                conn.execute(
                    _T.insert().values(name=name, holder=self.holder, lease_until=now + ttl)
                )
        except IntegrityError:
            return False  # another worker inserted it first and holds it
        return True

    def release(self, name: str, *, finished_at: datetime | None = None) -> None:
        """Give ``name`` back (if still held); ``finished_at`` records a completed pass."""
        values: dict[str, object] = {"holder": None, "lease_until": None}
        if finished_at is not None:
            values["last_run_at"] = finished_at
        with self._writer.begin() as conn:
            conn.execute(
                _T.update().where(_T.c.name == name, _T.c.holder == self.holder).values(**values)
            )

    def last_run(self, name: str) -> datetime | None:
        """When a pass of ``name`` last finished (``None``: never)."""
        with self._engine.connect() as conn:
            found: datetime | None = conn.execute(
                sa.select(_T.c.last_run_at).where(_T.c.name == name)
            ).scalar()
        return found
