"""box/blobs.py: bodies in the database and in files, checked on every read; the digest's
row serialises a publication and a removal of the same body. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text, update

from securebox_auth.stores.sql.database import Database
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.box.blobs import (
    CHUNK,
    KEPT,
    BlobStore,
    Checked,
    DatabaseBlobs,
    FileBlobs,
    checked_chunks,
    digest_of,
    verify,
)
from securebox_server.box.model import BodyCorrupted
from securebox_server.db.schema import BOX_BLOBS
from tests.server.box.conftest import T0

BODY = b"%PDF-1.7 a body"
DIGEST = digest_of(BODY)


@pytest.fixture
def engine(box_url: str) -> Iterator[Engine]:
    found = create_engine(box_url)
    yield found
    found.dispose()


@pytest.fixture(params=["database", "files"])
def blobs(request: pytest.FixtureRequest, engine: Engine, tmp_path: Path) -> BlobStore:
    if request.param == "database":
        return DatabaseBlobs(engine)
    return FileBlobs(engine, tmp_path / "blobs")


def _publish(engine: Engine, blobs: BlobStore, body: bytes = BODY) -> None:
    blobs.stage(digest_of(body), body)
    with Database(engine).transaction() as conn:
        blobs.keep(conn, digest_of(body), body, T0)


def test_a_kept_body_reads_back_and_a_missing_one_is_corrupted(
    engine: Engine, blobs: BlobStore
) -> None:
    _publish(engine, blobs)
    _publish(engine, blobs)  # the same body twice: one copy
    assert blobs.read(DIGEST) == BODY
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM box_blobs")).scalar_one() == 1
    with pytest.raises(BodyCorrupted):
        blobs.read(digest_of(b"never stored"))


def test_an_unnamed_body_is_dropped_in_the_commit(engine: Engine, blobs: BlobStore) -> None:
    _publish(engine, blobs)
    with Database(engine).transaction() as conn:
        assert blobs.drop(conn, DIGEST)  # no document names it
    blobs.purge(DIGEST)
    with pytest.raises(BodyCorrupted):
        blobs.read(DIGEST)


def test_a_rolled_back_publication_leaves_no_row(engine: Engine, blobs: BlobStore) -> None:
    blobs.stage(DIGEST, BODY)
    with engine.connect() as conn:
        transaction = conn.begin()
        blobs.keep(conn, DIGEST, BODY, T0)
        transaction.rollback()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM box_blobs")).scalar_one() == 0
    # database: nothing was kept; files: an orphan, removed once old enough
    assert blobs.orphans(before=T0 - timedelta(days=1)) == 0


def test_a_removal_waits_for_a_publication_of_the_same_body(engine: Engine, tmp_path: Path) -> None:
    blobs = FileBlobs(engine, tmp_path / "blobs")
    blobs.stage(DIGEST, BODY)
    outcome: list[bool] = []
    with Database(engine).transaction() as conn:
        blobs.keep(conn, DIGEST, BODY, T0)  # the row is locked until this commit
        remover = threading.Thread(
            target=lambda: outcome.append(blobs._remove(DIGEST, before=None))
        )
        remover.start()
        time.sleep(0.3)
        assert remover.is_alive()  # waiting for the digest's row
    remover.join(timeout=20)
    assert outcome == [False]
    assert blobs.read(DIGEST) == BODY


def test_a_publication_after_a_removal_writes_the_body_again(
    engine: Engine, tmp_path: Path
) -> None:
    blobs = FileBlobs(engine, tmp_path / "blobs")
    blobs.stage(DIGEST, BODY)
    assert blobs._remove(DIGEST, before=None)
    assert not blobs.path(DIGEST).exists()
    with Database(engine).transaction() as conn:
        blobs.keep(conn, DIGEST, BODY, T0)  # checked under the row's lock: written again
    assert blobs.read(DIGEST) == BODY


def test_file_names_are_digests_only(engine: Engine, tmp_path: Path) -> None:
    blobs = FileBlobs(engine, tmp_path / "blobs")
    for bad in ("../../etc/passwd", "A" * 64, "0" * 63):
        with pytest.raises(BodyCorrupted):
            blobs.path(bad)


def _large(size: int = 3 * CHUNK + 1234) -> bytes:
    """A body of several chunks and a short last one, no two chunks alike."""
    return b"".join(i.to_bytes(4, "big") * (CHUNK // 4) for i in range(size // CHUNK + 1))[:size]


def _tamper(engine: Engine, blobs: BlobStore, body: bytes, at: int) -> None:
    """Flip one byte of the stored body at offset ``at``."""
    changed = bytearray(body)
    changed[at] ^= 0xFF
    if isinstance(blobs, FileBlobs):
        blobs.path(digest_of(body)).write_bytes(bytes(changed))
        return
    with engine.begin() as conn:
        conn.execute(update(BOX_BLOBS).values(body=bytes(changed)))


def test_a_body_streams_in_chunks_checked_twice(engine: Engine, blobs: BlobStore) -> None:
    body = _large()
    _publish(engine, blobs, body)
    pieces = list(blobs.chunks(digest_of(body)))
    assert [len(p) for p in pieces] == [CHUNK, CHUNK, CHUNK, 1234]
    assert b"".join(pieces) == body
    checked = verify(blobs, digest_of(body))
    assert checked.size == len(body)
    assert checked.kept is not None  # at most KEPT bytes: kept from the check
    assert b"".join(checked.kept) == body
    assert b"".join(checked_chunks(blobs, digest_of(body), checked.size)) == body
    larger = _large(KEPT + 1)
    _publish(engine, blobs, larger)
    assert verify(blobs, digest_of(larger)) == Checked(KEPT + 1, None)  # read again to send
    assert b"".join(checked_chunks(blobs, digest_of(larger), KEPT + 1)) == larger
    assert list(blobs.chunks(digest_of(b"never stored"))) == []
    with pytest.raises(BodyCorrupted):
        verify(blobs, digest_of(b"never stored"))


@pytest.mark.parametrize("at", [0, CHUNK + 7, 3 * CHUNK + 1233])
def test_a_tampered_body_fails_the_first_pass(engine: Engine, blobs: BlobStore, at: int) -> None:
    body = _large()
    _publish(engine, blobs, body)
    _tamper(engine, blobs, body, at)
    with pytest.raises(BodyCorrupted):
        verify(blobs, digest_of(body))
    with pytest.raises(BodyCorrupted):
        blobs.read(digest_of(body))


@pytest.mark.parametrize("at", [0, 3 * CHUNK + 1233])
def test_a_body_changed_between_the_passes_is_never_sent_whole(
    engine: Engine, blobs: BlobStore, at: int
) -> None:
    body = _large()
    _publish(engine, blobs, body)
    size = verify(blobs, digest_of(body)).size
    _tamper(engine, blobs, body, at)  # after the check, before the sending
    sent: list[bytes] = []
    with pytest.raises(BodyCorrupted):
        sent.extend(checked_chunks(blobs, digest_of(body), size))
    assert sum(len(p) for p in sent) < size  # the last chunk was held back
    assert sum(len(p) for p in sent) <= 3 * CHUNK


def test_a_body_removed_between_the_passes_is_never_sent_whole(
    engine: Engine, blobs: BlobStore
) -> None:
    body = _large()
    _publish(engine, blobs, body)
    size = verify(blobs, digest_of(body)).size
    with Database(engine).transaction() as conn:
        assert blobs.drop(conn, digest_of(body))
    blobs.purge(digest_of(body))
    with pytest.raises(BodyCorrupted):
        list(checked_chunks(blobs, digest_of(body), size))
