"""A sender's batch (``POST /api/v1/sender/batches``, ADR 0060) through the real app on
SQLite and PostgreSQL: every item published in one commit with its notifications, feed
events and audit events; each item's idempotency key exact (a replay, a partial replay, a
key shared with a single publication, a key used for another request refusing the batch);
a bad item refusing the whole batch with nothing stored; two identical batches at once
making one set of documents; the size cap, the scope and malformed batches."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from typing import Any

from httpx import Response
from sqlalchemy import select

from securebox_server.api.batches import MAX_BATCH_BYTES
from securebox_server.box.batches import MAX_BATCH
from securebox_server.db.schema import BOX_EVENTS
from tests.server.api.box_app import *  # noqa: F403 (fixtures)
from tests.server.api.box_app import BoxApi, pdf
from tests.server.api.test_senders import problem
from tests.server.box.conftest import C1, C2, CLIENT, NOWHERE
from tests.server.box.e2e.integrity import check_integrity
from tests.server.box.hostile_pdfs import JS, raw_pdf

BATCHES = "/api/v1/sender/batches"

Item = tuple[str, bytes, list[str]]


def _items(api: BoxApi, items: list[Item], **extra: Any) -> dict[str, Any]:
    issued = (api.world.clock.now() - timedelta(days=1)).isoformat()
    return {
        "items": [
            {
                "idempotency_key": key,
                "file": f"f{n}",
                "type": "payslip",
                "label": "Payslip",
                "issued_at": issued,
                "companies": companies,
                **extra,
            }
            for n, (key, _, companies) in enumerate(items)
        ]
    }


def post_batch(
    api: BoxApi,
    items: list[Item],
    *,
    metadata: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    files: list[tuple[str, tuple[str | None, bytes | str, str]]] = [
        ("metadata", (None, json.dumps(metadata or _items(api, items)), "application/json"))
    ]
    files += [
        (f"f{n}", (f"{key}.pdf", body, "application/pdf")) for n, (key, body, _) in enumerate(items)
    ]
    sent = api.token(api.sender) if headers is None else headers
    answer: Response = api.client.post(BATCHES, headers=sent, files=files)
    return answer


def test_a_batch_publishes_every_item_in_one_commit(box_api: BoxApi) -> None:
    bodies = [pdf(100 + n) for n in range(3)]
    items = [
        ("b-1", bodies[0], [C1.value]),
        ("b-2", bodies[1], [C2.value]),
        ("b-3", bodies[2], [C1.value, NOWHERE.value]),
    ]
    answer = post_batch(box_api, items)
    assert answer.status_code == 201, answer.text
    assert "idempotent-replayed" not in answer.headers
    out = answer.json()["items"]
    assert [i["idempotency_key"] for i in out] == ["b-1", "b-2", "b-3"]
    assert [i["replayed"] for i in out] == [False] * 3
    assert [i["digest"] for i in out] == [hashlib.sha256(b).hexdigest() for b in bodies]
    assert out[2]["results"][1] == {
        "company": NOWHERE.value,
        "status": "refused",
        "document_id": None,
        "reason": "unknown_company",
    }
    ids = [r["document_id"] for i in out for r in i["results"] if r["status"] == "published"]
    documents = box_api.world.documents
    for document_id, body in zip(ids, [bodies[0], bodies[1], bodies[2]], strict=True):
        doc = documents.get(document_id)
        assert doc is not None
        assert documents.body(doc) == body
    counts = box_api.counts()
    assert counts["box_documents"] == 3
    assert counts["box_publications"] == 3
    assert counts["box_notifications"] >= 3
    assert check_integrity(documents.engine) == 3
    with documents.engine.connect() as conn:
        seqs = conn.execute(
            select(BOX_EVENTS.c.seq, BOX_EVENTS.c.document_id)
            .where(BOX_EVENTS.c.client_id == CLIENT.value)
            .order_by(BOX_EVENTS.c.seq)
        ).all()
    assert [s for s, _ in seqs] == [1, 2, 3]  # numbered without a gap, in the items' order
    assert [d for _, d in seqs] == ids
    assert box_api.world.box.verify_audit(CLIENT.value) >= 3


def test_a_replayed_batch_answers_the_same_items_and_publishes_nothing(box_api: BoxApi) -> None:
    items = [("r-1", pdf(110), [C1.value]), ("r-2", pdf(111), [C2.value])]
    first = post_batch(box_api, items)
    assert first.status_code == 201, first.text
    before = box_api.counts()
    again = post_batch(box_api, items)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    replayed = again.json()["items"]
    assert [i["replayed"] for i in replayed] == [True, True]
    assert [i["results"] for i in replayed] == [i["results"] for i in first.json()["items"]]
    assert box_api.counts() == before
    # an old item and a new one: the old one replays, the new one is published
    mixed = post_batch(box_api, [items[1], ("r-3", pdf(112), [C1.value])])
    assert mixed.status_code == 201, mixed.text
    assert "idempotent-replayed" not in mixed.headers
    assert [i["replayed"] for i in mixed.json()["items"]] == [True, False]
    assert mixed.json()["items"][0]["results"] == first.json()["items"][1]["results"]
    assert box_api.counts()["box_documents"] == before["box_documents"] + 1


def test_a_key_shared_with_a_single_publication_behaves_as_its_key(box_api: BoxApi) -> None:
    """The keys are the sender's, whichever route used them first."""
    single = box_api.publish("s-1", pdf(120), filename="s-1.pdf")
    assert single.status_code == 201, single.text
    before = box_api.counts()
    batch = post_batch(box_api, [("s-1", pdf(120), [C1.value])])
    assert batch.status_code == 201, batch.text
    (item,) = batch.json()["items"]
    assert item["replayed"] is True
    assert item["results"] == single.json()["results"]
    assert box_api.counts() == before


def test_a_key_used_for_another_request_refuses_the_whole_batch(box_api: BoxApi) -> None:
    assert post_batch(box_api, [("c-1", pdf(130), [C1.value])]).status_code == 201
    before = box_api.counts()
    items = [("c-new", pdf(131), [C1.value]), ("c-1", pdf(132), [C1.value])]
    body = problem(post_batch(box_api, items), 422, "idempotency_conflict")
    assert body["item"] == 1
    assert box_api.counts() == before  # the new item is not published either
    assert post_batch(box_api, items[:1]).status_code == 201  # its key is still free


def test_a_bad_item_refuses_the_whole_batch_and_stores_nothing(box_api: BoxApi) -> None:
    before = box_api.counts()
    hostile = raw_pdf(catalog_extra=b"/OpenAction " + JS)
    items = [("x-1", pdf(140), [C1.value]), ("x-2", hostile, [C1.value])]
    body = problem(post_batch(box_api, items), 422, "upload_rejected")
    assert (body["reason"], body["item"]) == ("javascript", 1)
    metadata = _items(box_api, items[:1])
    metadata["items"][0]["type"] = "no-such-type"
    body = problem(post_batch(box_api, items[:1], metadata=metadata), 422, "unknown_document_type")
    assert body["item"] == 0
    assert box_api.counts() == before
    assert post_batch(box_api, items[:1]).status_code == 201  # the key was never used


def test_malformed_batches_are_400(box_api: BoxApi) -> None:
    before = box_api.counts()
    one = ("m-1", pdf(150), [C1.value])
    twice = _items(box_api, [one, ("m-1", pdf(151), [C1.value])])
    problem(
        post_batch(box_api, [one, ("m-1", pdf(151), [C1.value])], metadata=twice),
        400,
        "malformed_input",
    )
    # an item naming a part that is not there, a part no item names
    missing = _items(box_api, [one])
    missing["items"][0]["file"] = "elsewhere"
    problem(post_batch(box_api, [one], metadata=missing), 400, "malformed_input")
    too_many = [(f"m-{n}", pdf(1), [C1.value]) for n in range(MAX_BATCH + 1)]
    problem(post_batch(box_api, too_many), 400, "malformed_input")
    unknown = _items(box_api, [one], extra_field=1)
    problem(post_batch(box_api, [one], metadata=unknown), 400, "malformed_input")
    keyed = {**box_api.token(box_api.sender), "Idempotency-Key": "m-h"}
    problem(post_batch(box_api, [one], headers=keyed), 400, "malformed_input")
    status = box_api.token(box_api.sender, "documents:status")
    problem(post_batch(box_api, [one], headers=status), 403, "insufficient_scope")
    oversized = {
        **box_api.token(box_api.sender),
        "Content-Type": "multipart/form-data; boundary=x",
        "Content-Length": str(MAX_BATCH_BYTES + 1),
    }
    answer = box_api.client.post(BATCHES, headers=oversized, content=b"--x--\r\n")
    problem(answer, 413, "payload_too_large")
    assert box_api.counts() == before


def test_two_identical_batches_at_once_make_one_set_of_documents(box_api: BoxApi) -> None:
    items = [("t-1", pdf(160), [C1.value, C2.value]), ("t-2", pdf(161), [C1.value])]
    token = box_api.token(box_api.sender)
    barrier, answers = threading.Barrier(2), []

    def send() -> None:
        barrier.wait()
        answers.append(post_batch(box_api, items, headers=token))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    results = [[i["results"] for i in a.json()["items"]] for a in answers]
    assert results[0] == results[1]
    flags = sorted(a.headers.get("idempotent-replayed", "-") for a in answers)
    assert flags == ["-", "true"]
    assert box_api.counts()["box_documents"] == 3
    assert check_integrity(box_api.world.documents.engine) == 3
