"""The senders' API through the real app on SQLite and PostgreSQL: a publication to one or
many companies, idempotent replays and conflicts (also from two threads at once), the
size cap, refused PDFs that leave nothing behind, scopes, the sender's listing and types,
and withdrawals under the retention rule."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from typing import Any

from httpx import Response

from securebox_server.api.multipart import OVERHEAD
from securebox_server.box.model import DocumentType
from securebox_server.box.upload import DEFAULT_LIMITS
from tests.server.api.box_app import *  # noqa: F403 (fixtures)
from tests.server.api.box_app import PUBLISH, BoxApi, pdf
from tests.server.box.conftest import C1, C2, NOWHERE, PAYROLL
from tests.server.box.hostile_pdfs import JS, raw_pdf
from tests.server.clients.helpers import register_sender


def problem(answer: Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert body["code"] == code, body
    return body


def test_one_publication_to_many_companies(box_api: BoxApi) -> None:
    body = pdf(1)
    answer = box_api.publish("k-1", body, companies=[C1.value, C2.value, NOWHERE.value])
    assert answer.status_code == 201, answer.text
    assert "idempotent-replayed" not in answer.headers
    out = answer.json()
    assert out["digest"] == hashlib.sha256(body).hexdigest()
    assert out["size"] == len(body)
    results = {r["company"]: r for r in out["results"]}
    assert results[NOWHERE.value] == {
        "company": NOWHERE.value,
        "status": "refused",
        "document_id": None,
        "reason": "unknown_company",
    }
    for company in (C1, C2):
        made = results[company.value]
        assert made["status"] == "published"
        doc = box_api.world.documents.get(made["document_id"])
        assert doc is not None
        assert doc.company == company
        assert box_api.world.documents.body(doc) == body
    assert box_api.counts()["box_documents"] == 2


def test_a_replay_gives_the_same_answer_and_no_new_document(box_api: BoxApi) -> None:
    first = box_api.publish("k-replay", pdf(2), companies=[C1.value, C2.value])
    before = box_api.counts()
    again = box_api.publish("k-replay", pdf(2), companies=[C1.value, C2.value])
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert box_api.counts() == before


def test_the_same_key_for_another_request_is_a_conflict(box_api: BoxApi) -> None:
    box_api.publish("k-conflict", pdf(3))
    before = box_api.counts()
    problem(box_api.publish("k-conflict", pdf(4)), 422, "idempotency_conflict")
    problem(box_api.publish("k-conflict", pdf(3), label="Other"), 422, "idempotency_conflict")
    assert box_api.counts() == before


def test_the_idempotency_key_is_per_sender(box_api: BoxApi) -> None:
    other = register_sender(box_api.client, "other-sender")
    box_api.world.documents.define_type(
        DocumentType("other-sender", "payslip", "Payslip", PAYROLL, 180, 15, "payroll", 0)
    )
    mine = box_api.publish("shared-key", pdf(5))
    theirs = box_api.publish("shared-key", pdf(6), headers=box_api.token(other))
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["results"] != theirs.json()["results"]


def test_two_threads_with_one_key_make_one_document_set(box_api: BoxApi) -> None:
    body, answers = pdf(7), []
    token = box_api.token(box_api.sender)
    barrier = threading.Barrier(2)

    def send() -> None:
        barrier.wait()
        answers.append(
            box_api.publish("k-race", body, companies=[C1.value, C2.value], headers=token)
        )

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    assert sorted(a.headers.get("idempotent-replayed", "-") for a in answers) == ["-", "true"]
    assert box_api.counts()["box_documents"] == 2


def test_an_oversized_upload_is_413_before_it_is_read(box_api: BoxApi) -> None:
    cap = DEFAULT_LIMITS.max_bytes + OVERHEAD
    headers = {
        **box_api.token(box_api.sender),
        "Idempotency-Key": "k-big",
        "Content-Type": "multipart/form-data; boundary=x",
        "Content-Length": str(cap + 1),
    }
    # the declared length alone is refused (the body sent is short)
    answer = box_api.client.post(PUBLISH, headers=headers, content=b"--x--\r\n")
    problem(answer, 413, "payload_too_large")


def test_a_body_growing_past_the_cap_is_413(box_api: BoxApi) -> None:
    chunk = b"\0" * (1024 * 1024)
    sent = [0]

    def stream() -> Any:
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
        for _ in range(DEFAULT_LIMITS.max_bytes // len(chunk) + 2):
            sent[0] += len(chunk)
            yield chunk

    headers = {
        **box_api.token(box_api.sender),
        "Idempotency-Key": "k-stream",
        "Content-Type": "multipart/form-data; boundary=x",
    }
    answer = box_api.client.post(PUBLISH, headers=headers, content=stream())
    problem(answer, 413, "payload_too_large")
    assert box_api.counts()["box_documents"] == 0


def test_a_file_over_the_limit_inside_the_cap_is_413(box_api: BoxApi) -> None:
    body = b"%PDF-1.7\n" + b"\0" * DEFAULT_LIMITS.max_bytes
    problem(box_api.publish("k-file", body), 413, "payload_too_large")


def test_a_refused_pdf_is_422_and_leaves_nothing_behind(box_api: BoxApi) -> None:
    before = box_api.counts()
    refused = problem(
        box_api.publish("k-js", raw_pdf(catalog_extra=b"/OpenAction " + JS)), 422, "upload_rejected"
    )
    assert refused["reason"] in ("javascript", "active_content")
    refused = problem(box_api.publish("k-text", b"hello, not a PDF"), 422, "upload_rejected")
    assert refused["reason"] == "not_pdf"
    assert box_api.counts() == before
    # the key was not spent: the same key publishes a good PDF afterwards
    assert box_api.publish("k-js", pdf(8)).status_code == 201


def test_malformed_requests_are_400(box_api: BoxApi) -> None:
    token = box_api.token(box_api.sender)
    problem(
        box_api.client.post(PUBLISH, headers=token, files={"file": ("a.pdf", pdf(9))}),
        400,
        "idempotency_key_missing",
    )
    problem(box_api.publish('"unclosed', pdf(9)), 400, "malformed_input")
    problem(box_api.publish("k-siren", pdf(9), companies=["123456780"]), 400, "invalid_identifier")
    problem(box_api.publish("k-none", pdf(9), companies=[]), 400, "malformed_input")
    answer = box_api.client.post(
        PUBLISH, headers={**token, "Idempotency-Key": "k-json"}, json={"type": "payslip"}
    )
    problem(answer, 415, "unsupported_media_type")
    problem(box_api.publish("k-type", pdf(9), type_="no-such-type"), 422, "unknown_document_type")
    assert box_api.counts()["box_documents"] == 0


def test_tokens_and_scopes(box_api: BoxApi) -> None:
    problem(box_api.publish("k-anon", pdf(10), headers={}), 401, "not_authenticated")
    status_only = box_api.token(box_api.sender, "documents:status")
    problem(box_api.publish("k-scope", pdf(10), headers=status_only), 403, "insufficient_scope")
    receiver = box_api.token(box_api.receiver_c1)
    answer = box_api.publish("k-recv", pdf(10), headers=receiver)
    assert problem(answer, 403, "insufficient_scope")["scope"] == "documents:publish"
    assert box_api.client.get("/api/v1/sender/types", headers=receiver).status_code == 403
    assert box_api.counts()["box_documents"] == 0


def test_the_sender_lists_its_documents_with_their_status(box_api: BoxApi) -> None:
    made = []
    for n in range(3):
        answer = box_api.publish(f"k-list-{n}", pdf(20 + n), label=f"Payslip {n}")
        made.append(answer.json()["results"][0]["document_id"])
        box_api.world.clock.advance(timedelta(minutes=1))
    token = box_api.token(box_api.sender, "documents:status")
    first = box_api.client.get("/api/v1/sender/documents?limit=2", headers=token).json()
    assert [d["id"] for d in first["documents"]] == [made[2], made[1]]
    rest = box_api.client.get(
        "/api/v1/sender/documents", params={"limit": 2, "cursor": first["next"]}, headers=token
    ).json()
    assert [d["id"] for d in rest["documents"]] == [made[0]]
    assert rest["next"] is None
    doc = first["documents"][0]
    assert doc["status"] == "live"
    assert doc["read"] is False
    assert doc["first_read_at"] is None
    assert doc["company"] == C1.value


def test_the_sender_sees_its_types(box_api: BoxApi) -> None:
    answer = box_api.client.get("/api/v1/sender/types", headers=box_api.token(box_api.sender))
    assert answer.status_code == 200
    types = {t["type"]: t for t in answer.json()["types"]}
    assert set(types) == {"payslip", "tax-notice"}
    assert types["tax-notice"]["retention_years"] == 10
    assert types["payslip"]["validity_days"] == 180


def test_a_withdrawal_follows_the_retention_rule(box_api: BoxApi) -> None:
    token = box_api.token(box_api.sender)
    payslip = box_api.publish("k-w1", pdf(30)).json()["results"][0]["document_id"]
    notice = box_api.publish("k-w2", pdf(31), type_="tax-notice").json()["results"][0][
        "document_id"
    ]
    url = "/api/v1/sender/documents/"
    assert box_api.client.delete(url + payslip, headers=token).status_code == 204
    assert box_api.client.delete(url + payslip, headers=token).status_code == 204  # again
    doc = box_api.world.documents.get(payslip)
    assert doc is not None
    assert doc.status.value == "deleted"
    refused = problem(box_api.client.delete(url + notice, headers=token), 409, "deletion_refused")
    assert "retention" in refused["detail"]
    problem(
        box_api.client.delete(url + "dNoSuchDocument", headers=token), 404, "document_not_found"
    )
    other = register_sender(box_api.client, "someone-else")
    problem(
        box_api.client.delete(url + notice, headers=box_api.token(other)), 404, "document_not_found"
    )
    listed = box_api.client.get("/api/v1/sender/documents", headers=token).json()["documents"]
    assert {d["id"]: d["status"] for d in listed} == {payslip: "deleted", notice: "live"}


def test_a_withdrawal_is_refused_under_a_legal_hold(box_api: BoxApi) -> None:
    token = box_api.token(box_api.sender)
    held = box_api.publish("k-h1", pdf(32)).json()["results"][0]["document_id"]
    box_api.world.documents.set_legal_hold(held, True, actor="operator/legal", reason="case 12")
    url = "/api/v1/sender/documents/" + held
    refused = problem(box_api.client.delete(url, headers=token), 409, "deletion_refused")
    assert "legal hold" in refused["detail"]
    doc = box_api.world.documents.get(held)
    assert doc is not None
    assert doc.status.value == "live"
    assert box_api.world.documents.body(doc) == pdf(32)
    box_api.world.documents.set_legal_hold(held, False, actor="operator/legal")
    assert box_api.client.delete(url, headers=token).status_code == 204
    gone = box_api.world.documents.get(held)
    assert gone is not None
    assert gone.status.value == "deleted"


def test_the_metadata_may_come_as_a_json_file_part(box_api: BoxApi) -> None:
    metadata = {
        "type": "payslip",
        "label": "Payslip",
        "issued_at": box_api.world.clock.now().isoformat(),
        "companies": [C1.value],
    }
    headers = {**box_api.token(box_api.sender), "Idempotency-Key": '"k-part"'}
    files = {
        "metadata": ("metadata.json", json.dumps(metadata).encode(), "application/json"),
        "file": ("p.pdf", pdf(12), "application/octet-stream"),  # the bytes decide
    }
    answer = box_api.client.post(PUBLISH, headers=headers, files=files)
    assert answer.status_code == 201, answer.text
    metadata["label"] = "x" * 70_000
    files["metadata"] = ("metadata.json", json.dumps(metadata).encode(), "application/json")
    headers["Idempotency-Key"] = "k-long"
    problem(box_api.client.post(PUBLISH, headers=headers, files=files), 400, "malformed_input")
