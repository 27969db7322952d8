"""Downloads are streamed (issue 19): a 20 MiB body through a real ``securebox serve`` (one
worker) on SQLite and on PostgreSQL comes back whole, with its ``Content-Length`` and
digest, while the worker's peak resident memory (``VmHWM``) rises by far less than the body;
a body damaged before the download is refused (``503``) without one byte of it; one
changed while it is sent ends short of its ``Content-Length`` (never complete).

The large body is put in place by the test (the row the publication's commit would write,
then the document pointed at it): a 20 MiB upload would raise the worker's peak itself.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from securebox_auth.stores.sql.database import Database
from securebox_server.box.blobs import FileBlobs, digest_of
from securebox_server.db.schema import BOX_BLOBS, BOX_DOCUMENTS
from tests.server.box.e2e.conftest import LiveParts
from tests.server.box.e2e.world import login, pdf, publish, sender_token
from tests.server.clients.helpers import bearer

SIZE = 20 * 1024 * 1024
#: The most the worker's peak may rise while serving :data:`SIZE` bytes (whole, it would
#: be at least the body once, and twice with the driver's copy).
FLAT = 6 * 1024 * 1024


def _large() -> bytes:
    """20 MiB of noise (nothing a store could compress away, as a PDF's streams)."""
    return random.Random(19).randbytes(SIZE)


def _peak(pid: int) -> int:
    """The process's peak resident set (``VmHWM``), bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _swap_body(parts: LiveParts, document_id: str, body: bytes) -> None:
    """Point the document at ``body``, stored as its publication would have stored it."""
    digest = digest_of(body)
    blobs = parts.documents.blobs
    blobs.stage(digest, body)
    with Database(parts.documents.engine).transaction() as conn:
        blobs.keep(conn, digest, body, parts.clock.now())
        conn.execute(
            sa.update(BOX_DOCUMENTS)
            .where(BOX_DOCUMENTS.c.id == document_id)
            .values(digest=digest, size=len(body))
        )


def _store(parts: LiveParts, body: bytes, changed: bytes) -> None:
    """Overwrite the stored ``body`` with ``changed`` (same digest: a damage)."""
    blobs = parts.documents.blobs
    if isinstance(blobs, FileBlobs):
        blobs.path(digest_of(body)).write_bytes(changed)
        return
    with parts.documents.engine.begin() as conn:
        conn.execute(
            sa.update(BOX_BLOBS).where(BOX_BLOBS.c.digest == digest_of(body)).values(body=changed)
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def parts(request: pytest.FixtureRequest) -> LiveParts:
    name = "sqlite_parts" if request.param == "sqlite" else "live_parts"
    found: LiveParts = request.getfixturevalue(name)
    return found


@pytest.fixture
def served(parts: LiveParts) -> Iterator[tuple[httpx.Client, int]]:
    """One worker (the process that serves), and a client of it."""
    server = parts.processes.serve(parts.port, 1)
    with httpx.Client(base_url=f"http://127.0.0.1:{parts.port}", timeout=60) as http:
        yield http, parts.processes.uvicorn(server)
    parts.processes.stop_server(server)


def _published(parts: LiveParts, http: httpx.Client, key: str) -> str:
    token = sender_token(http, parts.actors.sender, parts.clock, parts.settings.origin)
    answer = publish(http, token, pdf(7), key=key, issued_at=parts.clock.now() - timedelta(hours=1))
    assert answer.status_code == 201, answer.text
    document_id: str = answer.json()["results"][0]["document_id"]
    return document_id


def test_a_large_download_is_streamed_with_flat_memory(
    parts: LiveParts, served: tuple[httpx.Client, int]
) -> None:
    http, worker = served
    small, large = _published(parts, http, "small"), _published(parts, http, "large")
    body = _large()
    assert len(body) == SIZE
    _swap_body(parts, large, body)
    session = login(http, parts.box, parts.clock)
    url = "/api/v1/documents/{}/content"
    assert http.get(url.format(small), headers=bearer(session)).status_code == 200
    before = _peak(worker)  # the code paths warmed up by a first download

    hasher, received = hashlib.sha256(), 0
    with http.stream("GET", url.format(large), headers=bearer(session)) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-length"] == str(SIZE)
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.headers["content-disposition"].startswith("attachment;")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        for piece in answer.iter_bytes():
            hasher.update(piece)
            received += len(piece)
    assert received == SIZE
    assert hasher.hexdigest() == digest_of(body)
    rise = _peak(worker) - before
    print(f"{parts.settings.database_url.split(':')[0]}: peak RSS rise {rise / 2**20:.1f} MiB")
    assert rise < FLAT, f"the worker's peak rose by {rise / 2**20:.1f} MiB for a 20 MiB body"

    # changed while it is sent (after the check, the client not reading yet, the worker
    # held by flow control long before the end): cut short, never complete
    changed = bytearray(body)
    changed[SIZE - 1] ^= 0xFF
    with http.stream("GET", url.format(large), headers=bearer(session)) as answer:
        assert answer.status_code == 200
        _store(parts, body, bytes(changed))
        with pytest.raises(httpx.RemoteProtocolError):  # the Content-Length unmet
            for _piece in answer.iter_bytes():
                pass

    # damaged before the download: refused whole, not one byte of it sent
    refused = http.get(url.format(large), headers=bearer(session))
    assert refused.status_code == 503
    assert refused.json()["code"] == "body_corrupted", refused.text
    assert bytes(changed[:64]) not in refused.content
    logs = "".join(p.read_text(errors="replace") for p in parts.processes.home.glob("serve-*"))
    assert "Traceback" not in logs
    assert "fails its digest" in logs  # the alert's log line, for each of the two
