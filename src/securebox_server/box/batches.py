"""A sender's batch: many publications in one commit (ADR 0060).

A month-end run sends thousands of statements, each to its own company; one request and
one commit a document pays one durable commit (a few ms of ``fsync``) a document, and one
subscription's publications commit one after the other (its audit chain head and feed head,
ADR 0030). A batch carries up to :data:`MAX_BATCH` publications, each exactly what
:meth:`~.publishing.Publishing.publish` takes (a draft, its companies, its own idempotency
key), and commits them together:

* **All or nothing.** Every item is checked before anything is written; one commit holds
  every new item's rows, bodies, notifications, feed events and audit events. A failure
  (a bad item, a full disk, a crash) leaves none of them.
* **Idempotency per item, exact.** An item whose key was committed before with the same
  request is not published again: its earlier answer comes back (``replayed``); a key
  committed with another request refuses the whole batch (:class:`BatchItemConflict`,
  naming the item), nothing written. A key named twice in one batch is refused. When a
  concurrent request commits one of the batch's keys first, the batch's commit rolls back
  and the batch is decided again (that item then replays).
* **Bounded.** At most :data:`MAX_BATCH` items and :data:`~.publishing.MAX_COMPANIES`
  companies over the whole batch (so at most that many documents a commit).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

from sqlalchemy import select

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Siren
from securebox_auth.shell.retry import retrying
from securebox_server.box.model import (
    Draft,
    IdempotencyConflict,
    Publication,
    sender_name,
)
from securebox_server.box.model import idempotency_key as _checked_key
from securebox_server.box.publishing import (
    MAX_COMPANIES,
    Memo,
    Planned,
    Publishing,
    Raced,
    checked_companies,
    request_digest,
    result_from,
)
from securebox_server.db.schema import BOX_PUBLICATIONS

__all__ = ["MAX_BATCH", "BatchItem", "BatchItemConflict", "Batches"]

#: Publications one batch may carry.
MAX_BATCH: Final = 100
#: Attempts of a batch whose keys concurrent requests keep committing first.
_ATTEMPTS: Final = 5


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One publication of a batch: what :meth:`Publishing.publish` takes."""

    draft: Draft
    companies: Sequence[Siren]
    idempotency_key: str


class BatchItemConflict(IdempotencyConflict):
    """An item's key was used for another request: the batch is refused, nothing written.
    ``item``: its index in the batch."""

    code: ClassVar[str] = "idempotency_conflict"

    def __init__(self, message: str, item: int) -> None:
        super().__init__(message)
        self.item = item


@dataclass(frozen=True, slots=True)
class _Checked:
    key: str
    digest: str
    draft: Draft
    targets: list[Siren]


def _checked(sender: str, items: Sequence[BatchItem]) -> list[_Checked]:
    given: object = items  # checked at run time: callers may not be typed
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
        raise MalformedInput("a batch is a list of items")
    if not 1 <= len(items) <= MAX_BATCH:
        raise MalformedInput(f"a batch holds 1 to {MAX_BATCH} publications")
    out: list[_Checked] = []
    for item in items:
        if not isinstance(item, BatchItem) or not isinstance(item.draft, Draft):
            raise MalformedInput("a batch item carries a draft")
        key = _checked_key(item.idempotency_key)
        targets = checked_companies(item.companies)
        out.append(_Checked(key, request_digest(sender, item.draft, targets), item.draft, targets))
    if len({c.key for c in out}) != len(out):
        raise MalformedInput("an idempotency key is named once in a batch")
    if sum(len(c.targets) for c in out) > MAX_COMPANIES:
        raise MalformedInput(f"a batch names at most {MAX_COMPANIES} companies in all")
    return out


class Batches(Publishing):
    def publish_batch(self, sender: str, items: Sequence[BatchItem]) -> tuple[Publication, ...]:
        """Publish every item of the batch in one commit (see the module documentation);
        returns once durable, one :class:`Publication` per item in the order given
        (``replayed`` for an item committed before with the same key and request)."""
        sender_name(sender)
        checked = _checked(sender, items)

        def attempt() -> tuple[Publication, ...] | None:
            return self._batch(sender, checked)

        for _ in range(_ATTEMPTS):
            done = retrying(attempt, what="box")
            if done is not None:
                return done
        raise IdempotencyConflict("these idempotency keys are in use; try again")

    def _batch(self, sender: str, items: list[_Checked]) -> tuple[Publication, ...] | None:
        """One attempt: ``None`` when a concurrent request committed one of the keys first
        (rolled back: decide again)."""
        earlier = self._earlier_many(sender, items)
        now = self.clock.now()
        memo: Memo = {}
        planned = [
            self._plan(sender, Planned(c.key, c.digest, c.draft, c.targets), now, memo)
            for c in items
            if c.key not in earlier
        ]
        if planned:
            try:
                self._commit(sender, planned, now)
            except Raced:
                return None
        fresh = {p.key: Publication(tuple(p.results)) for p in planned}
        return tuple(earlier.get(c.key) or fresh[c.key] for c in items)

    def _earlier_many(self, sender: str, items: list[_Checked]) -> dict[str, Publication]:
        """The answers already given for the batch's keys (one query), or
        :class:`BatchItemConflict` for the first key given for another request."""
        table = BOX_PUBLICATIONS
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(table.c.key, table.c.request_digest, table.c.result).where(
                    table.c.sender == sender, table.c.key.in_([c.key for c in items])
                )
            ).all()
        found = {str(r[0]): (str(r[1]), str(r[2])) for r in rows}
        out: dict[str, Publication] = {}
        for index, c in enumerate(items):
            if c.key not in found:
                continue
            digest, result = found[c.key]
            if not secrets.compare_digest(digest, c.digest):
                raise BatchItemConflict(
                    "this idempotency key was used for another request", item=index
                )
            out[c.key] = Publication(result_from(result), replayed=True)
        return out
