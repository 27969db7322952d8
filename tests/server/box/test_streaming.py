"""DocumentStore.stream and the BodyStream answer (issue 19) on SQLite and PostgreSQL: a body
checked whole before its first byte, sent in chunks with its ``Content-Length``; a body
changed between the check and the sending raises the alert and the answer stops before its
last chunk (never complete); a body damaged before the check is refused with the alert.
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy import update
from starlette.types import Message

from securebox_auth.stores.sql.database import Database
from securebox_server.api.content import BodyStream
from securebox_server.box.blobs import CHUNK, digest_of
from securebox_server.box.model import BodyCorrupted, BoxDocument
from securebox_server.db.schema import BOX_BLOBS, BOX_DOCUMENTS
from securebox_server.web.metrics import BODY_CORRUPTED
from tests.server.box.conftest import CLIENT, World

SIZE = 5 * CHUNK + 99


def _large_document(world: World) -> tuple[BoxDocument, bytes]:
    """A published document pointed at a body of several chunks (stored as its
    publication's commit stores one)."""
    doc = world.documents.get(world.publish_sample().document_ids[0])
    assert doc is not None
    body = b"".join(hashlib.sha256(bytes([i])).digest() * (CHUNK // 32) for i in range(6))
    body = body[:SIZE]
    digest = digest_of(body)
    with Database(world.documents.engine).transaction() as conn:
        world.documents.blobs.keep(conn, digest, body, world.clock.now())
        conn.execute(
            update(BOX_DOCUMENTS)
            .where(BOX_DOCUMENTS.c.id == doc.id)
            .values(digest=digest, size=len(body))
        )
    again = world.documents.get(doc.id)
    assert again is not None
    return again, body


def _tamper(world: World, digest: str, at: int) -> None:
    with world.documents.engine.begin() as conn:
        stored = conn.execute(BOX_BLOBS.select().where(BOX_BLOBS.c.digest == digest)).one()
        changed = bytearray(stored.body)
        changed[at] ^= 0x01
        conn.execute(
            update(BOX_BLOBS).where(BOX_BLOBS.c.digest == digest).values(body=bytes(changed))
        )


def _served(response: BodyStream) -> list[Message]:
    """The ASGI messages the answer sends."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    asyncio.run(response(scope, receive, send))
    return sent


def _actions(world: World) -> list[str]:
    return [s.event.action for s in world.box.audit_log(CLIENT.value)]


def test_a_body_is_streamed_in_chunks_with_its_length(box_world: World) -> None:
    doc, body = _large_document(box_world)
    sent = _served(BodyStream(box_world.documents.stream(doc), media_type="application/pdf"))
    start, *pieces = sent
    assert start["status"] == 200
    assert (b"content-length", str(SIZE).encode()) in start["headers"]
    assert b"".join(p["body"] for p in pieces) == body
    assert max(len(p["body"]) for p in pieces) <= CHUNK
    assert [p["more_body"] for p in pieces] == [True] * (len(pieces) - 1) + [False]


def test_a_body_changed_after_its_check_is_cut_short_and_alerted(box_world: World) -> None:
    doc, _body = _large_document(box_world)
    streamed = box_world.documents.stream(doc)  # checked whole: sound
    _tamper(box_world, doc.digest, SIZE - 1)  # then damaged before it is sent
    before = BODY_CORRUPTED._value.get()
    sent = _served(BodyStream(streamed, media_type="application/pdf"))
    pieces = [m for m in sent if m["type"] == "http.response.body"]
    assert all(m["more_body"] for m in pieces)  # never completed
    assert sum(len(m["body"]) for m in pieces) < SIZE
    assert BODY_CORRUPTED._value.get() == before + 1
    assert _actions(box_world)[-1] == "box.document.body_corrupted"


def test_a_body_damaged_before_its_check_is_refused_before_a_byte(box_world: World) -> None:
    doc, _body = _large_document(box_world)
    _tamper(box_world, doc.digest, CHUNK + 3)
    before = BODY_CORRUPTED._value.get()
    with pytest.raises(BodyCorrupted):
        box_world.documents.stream(doc)
    assert BODY_CORRUPTED._value.get() == before + 1
    assert _actions(box_world)[-1] == "box.document.body_corrupted"
