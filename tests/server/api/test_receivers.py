"""The receivers' API through the real app on SQLite and PostgreSQL: the feed gives each
event once across pages and across concurrent publications, a company's service account
sees its own documents only (404 for the others', like a missing one), downloads carry
their digest, a mark read shows in the sender's status, scopes and the named limit."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from typing import Any

from sqlalchemy import select, update

from securebox_server.api.content import repr_digest
from securebox_server.db.schema import BOX_BLOBS, BOX_NOTIFICATIONS
from securebox_server.rate_limits import DEFAULT_LIMITS, Limiter, SqlRateLimitStorage
from tests.server.api.box_app import *  # noqa: F403 (fixtures)
from tests.server.api.box_app import BoxApi, build_app, close, pdf
from tests.server.api.test_senders import problem
from tests.server.box.conftest import C1, C2, COLLABORATOR

FEED = "/api/v1/receiver/events"
DOCS = "/api/v1/receiver/documents"


def publish(box_api: BoxApi, key: str, companies: list[str], seed: int) -> list[str]:
    answer = box_api.publish(key, pdf(seed), companies=companies)
    assert answer.status_code == 201, answer.text
    return [r["document_id"] for r in answer.json()["results"]]


def drain(box_api: BoxApi, headers: dict[str, str], after: int = 0, limit: int = 2) -> Any:
    """Every event after ``after``, page by page; the events and the last ``next``."""
    events: list[dict[str, Any]] = []
    while True:
        page = box_api.client.get(FEED, params={"after": after, "limit": limit}, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        events.extend(body["events"])
        assert body["next"] >= after
        after = body["next"]
        if not body["more"]:
            return events, after


def test_the_feed_gives_each_event_once_in_order(box_api: BoxApi) -> None:
    mine = publish(box_api, "f-1", [C1.value], 1)
    both = publish(box_api, "f-2", [C1.value, C2.value], 2)
    theirs = publish(box_api, "f-3", [C2.value], 3)
    mine += publish(box_api, "f-4", [C1.value], 4)
    c1 = box_api.token(box_api.receiver_c1)
    events, last = drain(box_api, c1)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
    assert [e["document_id"] for e in events] == [mine[0], both[0], mine[1]]
    assert {e["kind"] for e in events} == {"document.new"}
    assert {e["company"] for e in events} == {C1.value}
    # nothing new: the same cursor gives nothing, and the other company's feed is its own
    assert box_api.client.get(FEED, params={"after": last}, headers=c1).json()["events"] == []
    c2_events, _ = drain(box_api, box_api.token(box_api.receiver_c2), limit=100)
    assert [e["document_id"] for e in c2_events] == [both[1], theirs[0]]


def test_reads_and_deletions_are_in_the_feed(box_api: BoxApi) -> None:
    [doc] = publish(box_api, "f-r", [C1.value], 5)
    c1 = box_api.token(box_api.receiver_c1)
    _, last = drain(box_api, c1)
    assert box_api.client.post(f"{DOCS}/{doc}/read", headers=c1).status_code == 200
    box_api.client.delete(f"/api/v1/sender/documents/{doc}", headers=box_api.token(box_api.sender))
    events, _ = drain(box_api, c1, after=last)
    assert [(e["kind"], e["document_id"]) for e in events] == [
        ("document.read", doc),
        ("document.deleted", doc),
    ]


def test_the_feed_misses_nothing_while_publications_commit(box_api: BoxApi) -> None:
    sender = box_api.token(box_api.sender)
    c1 = box_api.token(box_api.receiver_c1)
    made: list[str] = []
    done = threading.Event()

    def publisher(n: int) -> None:
        for i in range(5):
            answer = box_api.publish(f"c-{n}-{i}", pdf(100 * n + i), headers=sender)
            assert answer.status_code == 201, answer.text
            made.append(answer.json()["results"][0]["document_id"])

    seen: list[dict[str, Any]] = []

    def poller() -> None:
        after = 0
        while True:
            finished = done.is_set()
            page = box_api.client.get(FEED, params={"after": after, "limit": 3}, headers=c1)
            assert page.status_code == 200, page.text
            seen.extend(page.json()["events"])
            after = page.json()["next"]
            if finished and not page.json()["more"]:
                return

    publishers = [threading.Thread(target=publisher, args=(n,)) for n in (1, 2)]
    reader = threading.Thread(target=poller)
    for t in [*publishers, reader]:
        t.start()
    for t in publishers:
        t.join()
    done.set()
    reader.join()
    ids = [e["document_id"] for e in seen]
    assert sorted(ids) == sorted(made)  # each once: no loss, no duplicate
    assert [e["seq"] for e in seen] == sorted(e["seq"] for e in seen)


def test_a_receiver_sees_its_company_only(box_api: BoxApi) -> None:
    [c2_doc] = publish(box_api, "o-1", [C2.value], 6)
    c1 = box_api.token(box_api.receiver_c1)
    for url in (f"{DOCS}/{c2_doc}", f"{DOCS}/{c2_doc}/content"):
        other = box_api.client.get(url, headers=c1)
        missing = box_api.client.get(url.replace(c2_doc, "dNoSuchDocument0"), headers=c1)
        assert other.status_code == missing.status_code == 404
        assert other.json()["code"] == missing.json()["code"] == "document_not_found"
    problem(box_api.client.post(f"{DOCS}/{c2_doc}/read", headers=c1), 404, "document_not_found")
    listed = box_api.client.get(DOCS, params={"status": "all"}, headers=c1).json()
    assert listed["documents"] == []
    assert box_api.world.documents.first_read(c2_doc) is None


def test_list_download_and_mark_read(box_api: BoxApi) -> None:
    body = pdf(7)
    [first] = publish(box_api, "l-1", [C1.value], 8)
    answer = box_api.publish(
        "l-2",
        body,
        companies=[C1.value],
        filename="relevé.pdf",
        issued_at=box_api.world.clock.now(),
    )
    second = answer.json()["results"][0]["document_id"]
    c1 = box_api.token(box_api.receiver_c1)
    new = box_api.client.get(DOCS, headers=c1).json()
    assert {d["id"] for d in new["documents"]} == {first, second}
    meta = box_api.client.get(f"{DOCS}/{second}", headers=c1).json()
    assert meta["digest"] == hashlib.sha256(body).hexdigest()
    assert meta["read"] is False
    assert meta["first_read_at"] is None
    content = box_api.client.get(f"{DOCS}/{second}/content", headers=c1)
    assert content.status_code == 200
    assert content.content == body
    assert content.headers["content-type"] == "application/pdf"
    assert content.headers["repr-digest"] == repr_digest(meta["digest"])
    assert base64.b64decode(content.headers["repr-digest"][9:-1]) == hashlib.sha256(body).digest()
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["cache-control"] == "no-store"
    assert content.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''relev%C3%A9.pdf" in content.headers["content-disposition"]
    # the download read it; the mark read reads the other
    marked = box_api.client.post(f"{DOCS}/{first}/read", headers=c1)
    assert marked.json() == {"id": first, "read": True}
    assert box_api.client.get(DOCS, params={"status": "new"}, headers=c1).json()["documents"] == []
    every = box_api.client.get(DOCS, params={"status": "all", "limit": 1}, headers=c1).json()
    assert [d["id"] for d in every["documents"]] == [second]
    rest = box_api.client.get(
        DOCS, params={"status": "all", "cursor": every["next"]}, headers=c1
    ).json()
    assert [d["id"] for d in rest["documents"]] == [first]
    assert rest["documents"][0]["read"] is True


def test_a_mark_read_shows_in_the_senders_status(box_api: BoxApi) -> None:
    [doc] = publish(box_api, "s-1", [C1.value], 9)
    status = box_api.token(box_api.sender, "documents:status")
    before = box_api.client.get("/api/v1/sender/documents", headers=status).json()
    assert before["documents"][0]["read"] is False
    c1 = box_api.token(box_api.receiver_c1, "documents:mark-read")
    assert box_api.client.post(f"{DOCS}/{doc}/read", headers=c1).status_code == 200
    after = box_api.client.get("/api/v1/sender/documents", headers=status).json()
    assert after["documents"][0]["read"] is True
    assert after["documents"][0]["first_read_at"] is not None
    first = box_api.world.documents.first_read(doc)
    assert first is not None
    assert first.reader == box_api.receiver_c1.client.principal


def test_scopes_and_kinds(box_api: BoxApi) -> None:
    [doc] = publish(box_api, "sc-1", [C1.value], 10)
    only_events = box_api.token(box_api.receiver_c1, "events:read")
    assert box_api.client.get(FEED, headers=only_events).status_code == 200
    problem(box_api.client.get(DOCS, headers=only_events), 403, "insufficient_scope")
    read_only = box_api.token(box_api.receiver_c1, "documents:read")
    problem(box_api.client.post(f"{DOCS}/{doc}/read", headers=read_only), 403, "insufficient_scope")
    problem(
        box_api.client.get(FEED, headers=box_api.token(box_api.sender)), 403, "insufficient_scope"
    )
    problem(box_api.client.get(FEED), 401, "not_authenticated")
    problem(
        box_api.client.get(FEED, params={"after": -1}, headers=only_events), 400, "malformed_input"
    )
    problem(box_api.client.get(DOCS, params={"cursor": "x"}, headers=read_only), 400, "bad_cursor")


def test_receivers_are_rate_limited(box_api: BoxApi) -> None:
    world = box_api.world
    storage = SqlRateLimitStorage(world.documents.engine, clock=world.clock)
    limiter = Limiter(storage, {**DEFAULT_LIMITS, "api.receiver": "3/minute"})
    client, _ = build_app(world, box_api.settings.database_url, limits=limiter)
    with client:
        box_api.client, kept = client, box_api.client
        try:
            c1 = box_api.token(box_api.receiver_c1)
            for _ in range(3):
                assert client.get(FEED, headers=c1).status_code == 200
            limited = problem(client.get(FEED, headers=c1), 429, "rate_limited")
            assert limited["retry_after"] > 0
            # another client has its own budget
            assert client.get(FEED, headers=box_api.token(box_api.receiver_c2)).status_code == 200
        finally:
            box_api.client = kept
    close(client)


def test_a_body_that_fails_its_digest_is_never_served(box_api: BoxApi) -> None:
    body = pdf(11)
    [doc] = publish_body(box_api, "x-1", body)
    with box_api.world.documents.engine.begin() as conn:
        conn.execute(update(BOX_BLOBS).values(body=body[:-1] + b"!"))
    c1 = box_api.token(box_api.receiver_c1)
    answer = problem(box_api.client.get(f"{DOCS}/{doc}/content", headers=c1), 503, "body_corrupted")
    assert "%PDF" not in json.dumps(answer)
    user = box_api.user_token(COLLABORATOR)
    problem(
        box_api.client.get(f"/api/v1/documents/{doc}/content", headers=user), 503, "body_corrupted"
    )


def publish_body(box_api: BoxApi, key: str, body: bytes) -> list[str]:
    answer = box_api.publish(key, body, companies=[C1.value])
    assert answer.status_code == 201, answer.text
    return [r["document_id"] for r in answer.json()["results"]]


def test_a_service_account_gets_no_notification_row(box_api: BoxApi) -> None:
    """The receivers' accounts see C1's and C2's documents but have no mailbox: publishing
    and the expiry warning write outbox rows for the people only."""
    publish(box_api, "m-1", [C1.value, C2.value], 77)
    machines: set[str] = set()
    for who in (box_api.receiver_c1, box_api.receiver_c2):
        assert who.client.principal is not None
        machines.add(who.client.principal.user_number.value)
    with box_api.world.documents.engine.connect() as conn:
        told = set(conn.execute(select(BOX_NOTIFICATIONS.c.user_number)).scalars())
    assert COLLABORATOR.user_number.value in told
    assert not told & machines
