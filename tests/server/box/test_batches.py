"""``DocumentStore.publish_batch`` (ADR 0060) on SQLite and PostgreSQL: the same documents
and notifications as one publication each, in one commit; a bad item (an unknown type, a
key used for another request) leaves nothing; the batch's bounds; the reads the items share
(a type, a subscription, its accounts, receivers and company address) made once a batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from stdnum import luhn

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Siren
from securebox_server.box.batches import MAX_BATCH, BatchItem, BatchItemConflict
from securebox_server.box.model import Draft, UnknownDocumentType
from securebox_server.box.publishing import MAX_COMPANIES, Publishing
from tests.server.box.conftest import C1, C2, CLIENT, SENDER, World, upload
from tests.server.box.e2e.integrity import check_integrity


def siren_of(n: int) -> Siren:
    digits = f"{70_000_000 + n:08d}"
    return Siren(digits + luhn.calc_check_digit(digits))


def _item(world: World, n: int, *, key: str | None = None, type_: str = "payslip") -> BatchItem:
    issued = world.clock.now() - timedelta(days=1)
    draft = Draft(type_, f"Payslip {n}", issued, upload(f"body {n}".encode(), f"p{n}.pdf"))
    return BatchItem(draft, [C1 if n % 2 else C2], key or f"batch-{n}")


def _count(world: World, table: str) -> int:
    with world.documents.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def _counts(world: World) -> dict[str, int]:
    tables = ("box_documents", "box_notifications", "box_events", "box_publications")
    return {t: _count(world, t) for t in tables}


def _notifications_of(world: World, document_id: str) -> int:
    with world.documents.engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM box_notifications WHERE document_id = :d"),
            {"d": document_id},
        )
        return int(found.scalar_one())


def test_a_batch_writes_what_single_publications_write(box_world: World) -> None:
    world = box_world
    told = {}
    for n, company in ((100, C1), (101, C2)):
        (doc,) = world.documents.publish(
            SENDER, _item(world, n).draft, [company], idempotency_key=f"alone-{n}"
        ).document_ids
        told[company] = _notifications_of(world, doc)
    done = world.documents.publish_batch(SENDER, [_item(world, n) for n in range(6)])
    assert [p.replayed for p in done] == [False] * 6
    for n, publication in enumerate(done):
        ((company, _, made),) = publication.results
        assert company == (C1 if n % 2 else C2)
        assert made is not None
        assert _notifications_of(world, made) == told[company]
    assert _counts(world) == {
        "box_documents": 8,
        "box_notifications": 4 * (told[C1] + told[C2]),
        "box_events": 8,
        "box_publications": 8,
    }
    assert check_integrity(world.documents.engine) == 8
    assert world.box.verify_audit(CLIENT.value) >= 8


def test_a_bad_item_leaves_nothing(box_world: World) -> None:
    world = box_world
    world.documents.publish_batch(SENDER, [_item(world, 1, key="used")])
    before = _counts(world)
    with pytest.raises(UnknownDocumentType):
        world.documents.publish_batch(
            SENDER, [_item(world, 2), _item(world, 3, type_="no-such-type")]
        )
    with pytest.raises(BatchItemConflict) as conflict:
        world.documents.publish_batch(SENDER, [_item(world, 4), _item(world, 5, key="used")])
    assert conflict.value.item == 1
    assert _counts(world) == before
    again = world.documents.publish_batch(SENDER, [_item(world, 1, key="used")])
    assert [p.replayed for p in again] == [True]


def test_the_batch_bounds(box_world: World) -> None:
    world = box_world
    publish = world.documents.publish_batch
    for bad in ([], [_item(world, 1, key="k"), _item(world, 2, key="k")], "items", [object()]):
        with pytest.raises(MalformedInput):
            publish(SENDER, bad)  # type: ignore[arg-type]
    with pytest.raises(MalformedInput):
        publish(SENDER, [_item(world, n) for n in range(MAX_BATCH + 1)])
    draft = _item(world, 1).draft
    companies = [siren_of(n) for n in range(MAX_COMPANIES)]  # 1,000 in the first item
    wide = [BatchItem(draft, companies, "wide"), BatchItem(draft, [C1], "one-more")]
    with pytest.raises(MalformedInput, match="companies in all"):
        publish(SENDER, wide)
    assert _count(world, "box_publications") == 0


def test_the_items_share_their_reads(box_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twelve items to one subscription's two companies: the type, each company's
    subscriptions, the subscription's accounts and receivers read once, each company's
    address once (before: once an item)."""
    calls: Counter[str] = Counter()

    def spy(name: str) -> None:
        original: Callable[..., Any] = getattr(Publishing, name)

        def counted(self: Publishing, *args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return original(self, *args, **kwargs)

        monkeypatch.setattr(Publishing, name, counted)

    for name in ("document_type", "_subscriptions_holding", "_accounts", "machines"):
        spy(name)
    spy("company_contact")
    world = box_world
    world.documents.publish_batch(SENDER, [_item(world, n) for n in range(12)])
    assert calls == {
        "document_type": 1,
        "_subscriptions_holding": 2,
        "_accounts": 1,
        "machines": 1,
        "company_contact": 2,
    }
