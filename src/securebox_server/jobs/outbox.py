"""The notification outbox (``box_notifications``): claiming due rows under a lease, and
recording what became of them.

**Claim** (one transaction): the due rows (``pending``, ``next_attempt_at`` passed, no live
lease) in recipient order, at most ``batch`` of them, are locked and stamped with this
worker's lease (``leased_by``, ``lease_until``). On PostgreSQL the rows are read
``FOR UPDATE SKIP LOCKED``: concurrent workers take disjoint rows and never wait for each
other; on SQLite the transaction starts with ``BEGIN IMMEDIATE`` (one writer) and the worker
holds the ``outbox`` named lease (:mod:`.leases`). Rows without a ``message_id`` get one in
the same transaction, one per digest (a recipient and a kind): a digest retried later (after
a failure or a crash) is the same rows under the same ``Message-ID``.

A share (kind ``share``, :mod:`securebox_server.box.shares`) is a digest of its own: one
row, one address, one message.

**Finish** (one transaction): each row's outcome is written only while this worker still
holds its lease (``leased_by`` matches and the row is still ``pending``); a row whose lease
ran out and was taken over is left to its new holder (the count of such rows is returned).
A final outcome clears a share's note.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine

from securebox_auth.stores.sql.engine import WRITE_OPTION, dialect_of
from securebox_server.box.shares import SHARE
from securebox_server.db.schema import BOX_NOTIFICATIONS
from securebox_server.jobs.retries import Status

__all__ = ["Digest", "Notification", "Outbox", "RowOutcome"]

_N = BOX_NOTIFICATIONS


@dataclass(frozen=True, slots=True)
class Notification:
    """One claimed outbox row."""

    id: str
    kind: str
    document_id: str
    client_id: str
    company: str
    #: ``None``: the company's notification address.
    user_number: str | None
    attempts: int
    message_id: str | None
    #: a share's address, note and language (``None`` for every other kind)
    address: str | None = field(default=None, repr=False)
    note: str | None = field(default=None, repr=False)
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """The rows one message tells a recipient about (one kind)."""

    message_id: str
    kind: str
    client_id: str
    user_number: str | None
    company: str
    rows: tuple[Notification, ...]

    @property
    def attempts(self) -> int:
        return max(row.attempts for row in self.rows)


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What :meth:`Outbox.finish` writes for one row."""

    id: str
    status: Status
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None = None
    channel: str | None = None
    error: str | None = None


def _recipient(row: Notification) -> tuple[str, str, str, str, str]:
    """The digest a row belongs to: a user's (any company), or a company address's; a
    share's own."""
    who = row.user_number if row.user_number is not None else ""
    company = row.company if row.user_number is None else ""
    alone = row.id if row.kind == SHARE else ""
    return (row.client_id, who, company, row.kind, alone)


class Outbox:
    """Claims and outcomes of ``box_notifications`` for the worker ``worker``."""

    def __init__(self, engine: Engine, worker: str) -> None:
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._engine = engine
        self._skip_locked = dialect_of(engine) == "postgresql"
        self.worker = worker

    def claim(
        self,
        now: datetime,
        lease: timedelta,
        message_id: Callable[[Sequence[str]], str],
        *,
        batch: int = 500,
    ) -> list[Digest]:
        """Lease up to ``batch`` due rows, grouped in digests (``message_id(ids)`` names a
        new digest)."""
        due = sa.and_(
            _N.c.status == Status.PENDING.value,
            _N.c.next_attempt_at <= now,
            sa.or_(_N.c.lease_until.is_(None), _N.c.lease_until < now),
        )
        query = (
            sa.select(
                _N.c.id,
                _N.c.kind,
                _N.c.document_id,
                _N.c.client_id,
                _N.c.company,
                _N.c.user_number,
                _N.c.attempts,
                _N.c.message_id,
                _N.c.address,
                _N.c.note,
                _N.c.language,
            )
            .where(due)
            .order_by(_N.c.client_id, _N.c.user_number, _N.c.company, _N.c.kind, _N.c.id)
            .limit(batch)
        )
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        with self._writer.begin() as conn:
            rows = [Notification(*r) for r in conn.execute(query)]
            digests = self._group(rows, message_id)
            until = now + lease
            for digest in digests:
                conn.execute(
                    _N.update()
                    .where(_N.c.id.in_([r.id for r in digest.rows]))
                    .values(lease_until=until, leased_by=self.worker, message_id=digest.message_id)
                )
        return digests

    @staticmethod
    def _group(
        rows: Iterable[Notification], message_id: Callable[[Sequence[str]], str]
    ) -> list[Digest]:
        digests: list[Digest] = []
        for key, members in itertools.groupby(sorted(rows, key=_recipient), key=_recipient):
            batch = list(members)
            fresh = [r for r in batch if r.message_id is None]
            named: dict[str, list[Notification]] = {}
            for r in batch:
                if r.message_id is not None:
                    named.setdefault(r.message_id, []).append(r)
            if fresh:
                named[message_id(sorted(r.id for r in fresh))] = fresh
            for mid, group in named.items():
                digests.append(
                    Digest(
                        mid,
                        key[3],
                        group[0].client_id,
                        group[0].user_number,
                        group[0].company,
                        tuple(group),
                    )
                )
        return digests

    def hold(self, digest: Digest, now: datetime, lease: timedelta) -> bool:
        """Renew the lease of ``digest``'s rows just before sending it; ``False`` (send
        nothing) when any of them is no longer this worker's (its lease ran out and another
        worker took it over): a slow worker never sends what another one is sending."""
        ids = [row.id for row in digest.rows]
        with self._writer.begin() as conn:
            done = conn.execute(
                _N.update()
                .where(
                    _N.c.id.in_(ids),
                    _N.c.leased_by == self.worker,
                    _N.c.status == Status.PENDING.value,
                )
                .values(lease_until=now + lease)
            )
            if done.rowcount == len(ids):
                return True
            conn.rollback()
        return False

    def finish(self, outcomes: Sequence[RowOutcome]) -> int:
        """Write ``outcomes``; returns how many rows were no longer this worker's."""
        lost = 0
        with self._writer.begin() as conn:
            for o in outcomes:
                done = conn.execute(
                    _N.update()
                    .where(
                        _N.c.id == o.id,
                        _N.c.leased_by == self.worker,
                        _N.c.status == Status.PENDING.value,
                    )
                    .values(
                        status=o.status.value,
                        attempts=o.attempts,
                        next_attempt_at=o.next_attempt_at,
                        lease_until=None,
                        leased_by=None,
                        sent_at=o.sent_at,
                        channel=o.channel,
                        last_error=o.error[:200] if o.error else None,
                        **({} if o.status is Status.PENDING else {"note": None}),
                    )
                )
                lost += 1 - done.rowcount
        return lost

    def record_bounce(self, message_id: str, reason: str) -> int:
        """An asynchronous bounce or failed delivery report of the digest ``message_id``
        (with or without its angle brackets, as an SMS reference is): its ``sent`` rows
        become ``bounced`` (the reason kept, 200 characters at most)."""
        message_id = "<" + message_id.strip().removeprefix("<").removesuffix(">") + ">"
        with self._writer.begin() as conn:
            done = conn.execute(
                _N.update()
                .where(_N.c.message_id == message_id, _N.c.status == Status.SENT.value)
                .values(status=Status.BOUNCED.value, last_error=reason[:200] or "bounced")
            )
        return int(done.rowcount)

    def counts(self) -> dict[str, int]:
        """Rows by status."""
        with self._engine.connect() as conn:
            found = conn.execute(sa.select(_N.c.status, sa.func.count()).group_by(_N.c.status))
            return {str(status): int(n) for status, n in found}
