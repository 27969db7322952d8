"""Document bodies, by their SHA-256: in the database (:class:`DatabaseBlobs`, the default)
or in files (:class:`FileBlobs`). Every read checks the digest (:class:`~securebox_server.
box.model.BodyCorrupted` when it fails: the bytes are never returned).

Both keep a ``box_blobs`` row per body, written in the document's own commit; the row is
the digest's lock. A file is written and fsynced *before* that commit (a crash in between
leaves an orphan file, removed later by :meth:`FileBlobs.orphans`), and checked again under
the row's lock inside the commit (a concurrent removal cannot slip between them). A body is
removed with the last live document naming it: the database row in the deletion's own
commit, a file just after it, under the digest's lock (:meth:`BlobStore.purge`).

A full filesystem (or quota) raises :class:`~securebox_auth.errors.StorageFull` from
:meth:`BlobStore.stage`, before the commit: the temporary file is removed, nothing was
committed, and the same publication succeeds once there is room again.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final, Protocol

from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from securebox_auth.errors import StorageFull
from securebox_auth.stores.sql.database import Database
from securebox_auth.stores.sql.driver_errors import is_storage_full
from securebox_server.box.model import BodyCorrupted, Status
from securebox_server.db.schema import BOX_BLOBS, BOX_DOCUMENTS

__all__ = [
    "CHUNK",
    "KEPT",
    "BlobStore",
    "Checked",
    "DatabaseBlobs",
    "FileBlobs",
    "Streamed",
    "checked_chunks",
    "digest_of",
    "verify",
]

#: The size of the pieces a body is read (and sent) in: the memory a download holds.
CHUNK: Final = 256 * 1024
#: A body up to this size is kept from its check and sent from memory; a larger one is read
#: a second time as it is sent: the most a download holds.
KEPT: Final = 4 * CHUNK

#: The size of a reference row of :class:`FileBlobs` (its body is in a file).
_IN_FILE: Final = b""
#: A row that only locks a digest while its file is removed (never committed).
_REMOVING: Final = -1


def digest_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _check(digest: str, body: bytes | None) -> bytes:
    if body is None or not hmac.compare_digest(digest_of(body), digest):
        raise BodyCorrupted("the document's body is damaged or missing; it cannot be served")
    return body


@dataclass(frozen=True, slots=True)
class Streamed:
    """A body on its way out: its checked ``size`` and its ``chunks``."""

    size: int
    chunks: Iterator[bytes]


@dataclass(frozen=True, slots=True)
class Checked:
    """What the first pass found: the body's ``size`` and, when it is at most :data:`KEPT`
    bytes, its chunks (sent from memory: no second read)."""

    size: int
    kept: tuple[bytes, ...] | None


def verify(blobs: BlobStore, digest: str) -> Checked:
    """The first pass of a download: every chunk of the body hashed, at most :data:`KEPT`
    bytes of them kept (:class:`BodyCorrupted` when it fails its digest or is missing)."""
    hasher = hashlib.sha256()
    size = 0
    kept: list[bytes] | None = []
    for chunk in blobs.chunks(digest):
        hasher.update(chunk)
        size += len(chunk)
        if kept is not None:
            kept = [*kept, chunk] if size <= KEPT else None
    if not hmac.compare_digest(hasher.hexdigest(), digest):
        raise BodyCorrupted("the document's body is damaged or missing; it cannot be served")
    return Checked(size, None if kept is None else tuple(kept))


def checked_chunks(blobs: BlobStore, digest: str, size: int) -> Iterator[bytes]:
    """The second pass: the body's chunks, hashed again on their way out; the last one is
    held back until the whole digest (and ``size``) matched, so a body changed since
    :func:`verify` is never served whole (:class:`BodyCorrupted` instead of its end)."""
    hasher = hashlib.sha256()
    sent = 0
    held: bytes | None = None
    for chunk in blobs.chunks(digest):
        hasher.update(chunk)
        sent += len(chunk)
        if held is not None:
            yield held
        held = chunk
    if sent != size or not hmac.compare_digest(hasher.hexdigest(), digest):
        raise BodyCorrupted("the document's body changed while it was sent")
    if held is not None:
        yield held


class BlobStore(Protocol):
    def stage(self, digest: str, body: bytes) -> None:
        """Before the publishing commit: make the body durable where it lives."""
        ...

    def keep(self, conn: Connection, digest: str, body: bytes, at: datetime) -> None:
        """In the publishing commit: the digest's row (locked until the commit ends)."""
        ...

    def read(self, digest: str) -> bytes:
        """The body, checked against its digest (:class:`BodyCorrupted`)."""
        ...

    def chunks(self, digest: str) -> Iterator[bytes]:
        """The stored bytes in pieces of at most :data:`CHUNK`, *not* checked (see
        :func:`verify` and :func:`checked_chunks`); nothing when the body is missing."""
        ...

    def drop(self, conn: Connection, digest: str) -> bool:
        """In a deletion's commit, after the document became a tombstone: remove the
        digest's row when no live or expired document names it; whether it did."""
        ...

    def purge(self, digest: str) -> None:
        """After the commit in which :meth:`drop` returned true."""
        ...

    def orphans(self, *, before: datetime) -> int:
        """Remove bodies no document names, stored before ``before``; how many."""
        ...


class _Rows:
    """The ``box_blobs`` rows both stores keep, and their lock protocol."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.db = Database(engine)
        self.postgresql = engine.dialect.name == "postgresql"

    def upsert(self, conn: Connection, digest: str, size: int, body: bytes, at: datetime) -> None:
        """Insert the row, or lock the existing one (PostgreSQL: ``DO UPDATE`` takes the
        row lock, and waits for a removal in progress)."""
        make = postgresql.insert if self.postgresql else sqlite.insert
        stmt = make(BOX_BLOBS).values(digest=digest, size=size, body=body, created_at=at)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["digest"], set_={"size": stmt.excluded.size})
        )

    def unreferenced(self, conn: Connection, digest: str) -> bool:
        """Lock the digest's row, then: does no live or expired document name it?"""
        conn.execute(
            select(BOX_BLOBS.c.digest).where(BOX_BLOBS.c.digest == digest).with_for_update()
        )
        named = conn.execute(
            select(BOX_DOCUMENTS.c.id)
            .where(BOX_DOCUMENTS.c.digest == digest, BOX_DOCUMENTS.c.status != Status.DELETED)
            .limit(1)
        ).first()
        return named is None

    def drop(self, conn: Connection, digest: str) -> bool:
        if not self.unreferenced(conn, digest):
            return False
        conn.execute(delete(BOX_BLOBS).where(BOX_BLOBS.c.digest == digest))
        return True


class DatabaseBlobs:
    """Bodies in ``box_blobs`` (one copy per digest), written in the document's commit."""

    def __init__(self, engine: Engine) -> None:
        self._rows = _Rows(engine)
        self._read = self._rows.db.sql("SELECT body FROM box_blobs WHERE digest = ?")
        self._first = (
            "SELECT octet_length(body), substring(body from 1 for %s) FROM box_blobs"
            " WHERE digest = %s"
        )
        self._piece = "SELECT substring(body from %s for %s) FROM box_blobs WHERE digest = %s"
        self._rowid = "SELECT rowid, length(body) FROM box_blobs WHERE digest = ?"

    def stage(self, digest: str, body: bytes) -> None:
        del digest, body  # written in the commit itself

    def keep(self, conn: Connection, digest: str, body: bytes, at: datetime) -> None:
        self._rows.upsert(conn, digest, len(body), body, at)

    def read(self, digest: str) -> bytes:
        rows = self._rows.db.fetch(self._read, (digest,))
        return _check(digest, bytes(rows[0][0]) if rows else None)

    def chunks(self, digest: str) -> Iterator[bytes]:
        """PostgreSQL: ``substring`` of the ``bytea`` (only the TOAST chunks it covers are
        read); SQLite: incremental blob I/O (``substr`` would load the whole value each
        time). Each piece on a read connection of its own, given back before it is sent:
        a slow client holds no connection. A row removed meanwhile ends the pieces early."""
        db = self._rows.db
        if db.postgresql:
            rows = db.read_with(partial(_binary, self._first, (CHUNK, digest)))
            if not rows:
                return
            size = int(rows[0][0])
            yield bytes(rows[0][1])
            for start in range(CHUNK, size, CHUNK):
                piece = db.read_with(partial(_binary, self._piece, (start + 1, CHUNK, digest)))
                if not piece:
                    return
                yield bytes(piece[0][0])
            return
        rows = db.fetch(self._rowid, (digest,))
        if not rows:
            return
        rowid, size = int(rows[0][0]), int(rows[0][1])
        for start in range(0, size, CHUNK):
            read = db.read_with(partial(_blob_piece, rowid, start))
            if read is None:
                return
            yield read

    def drop(self, conn: Connection, digest: str) -> bool:
        return self._rows.drop(conn, digest)

    def purge(self, digest: str) -> None:
        del digest  # the row went with the commit

    def orphans(self, *, before: datetime) -> int:
        named = select(BOX_DOCUMENTS.c.digest).where(BOX_DOCUMENTS.c.status != Status.DELETED)
        with self._rows.db.transaction() as conn:
            gone = conn.execute(
                delete(BOX_BLOBS).where(
                    BOX_BLOBS.c.created_at < before, BOX_BLOBS.c.digest.not_in(named)
                )
            )
            return int(gone.rowcount or 0)


class FileBlobs:
    """Bodies in files under ``root`` (``root/ab/abcdef...``), written with a temporary
    name, fsynced, renamed, and the directory fsynced: durable before the commit."""

    def __init__(self, engine: Engine, root: Path) -> None:
        self._rows = _Rows(engine)
        self.root = root

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise BodyCorrupted("not a SHA-256 digest")
        return self.root / digest[:2] / digest

    def stage(self, digest: str, body: bytes) -> None:
        """Write the body's file (:class:`StorageFull` when the filesystem has no room)."""
        target = self.path(digest)
        if target.is_file() and target.stat().st_size == len(body):
            os.utime(target)  # fresh: not an orphan yet (see orphans())
            return
        try:
            self._write(target, digest, body)
        except OSError as error:
            if is_storage_full(error):
                raise StorageFull("no room left for the document's body") from None
            raise

    def _write(self, target: Path, digest: str, body: bytes) -> None:
        """The file, under a temporary name removed again if anything fails."""
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.parent / f".{digest}.{secrets.token_hex(8)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            with suppress(FileNotFoundError):
                temporary.unlink()
            raise
        _sync_directory(target.parent)

    def keep(self, conn: Connection, digest: str, body: bytes, at: datetime) -> None:
        self._rows.upsert(conn, digest, len(body), _IN_FILE, at)
        # Under the row's lock: a removal that ran since stage() cannot run again now.
        target = self.path(digest)
        if not (target.is_file() and target.stat().st_size == len(body)):
            self.stage(digest, body)

    def read(self, digest: str) -> bytes:
        try:
            body = self.path(digest).read_bytes()
        except FileNotFoundError:
            body = None
        return _check(digest, body)

    def chunks(self, digest: str) -> Iterator[bytes]:
        """The file's bytes, read :data:`CHUNK` at a time (nothing when it is missing)."""
        try:
            source = self.path(digest).open("rb", buffering=0)
        except FileNotFoundError:
            return
        with source:
            while piece := source.read(CHUNK):
                yield piece

    def drop(self, conn: Connection, digest: str) -> bool:
        return self._rows.drop(conn, digest)

    def purge(self, digest: str) -> None:
        self._remove(digest, before=None)

    def _remove(self, digest: str, *, before: datetime | None) -> bool:
        """Remove the file if no row names its digest, holding a row of our own for the
        digest meanwhile (a publication of the same body waits, then writes it again).
        ``before``: only a file last written before then."""
        target = self.path(digest)
        make = postgresql.insert if self._rows.postgresql else sqlite.insert
        marker = (
            make(BOX_BLOBS)
            .values(digest=digest, size=_REMOVING, body=_IN_FILE, created_at=_EPOCH)
            .on_conflict_do_nothing(index_elements=["digest"])
            .returning(BOX_BLOBS.c.digest)
        )
        with self._rows.db.transaction() as conn:
            if conn.execute(marker).first() is None:
                return False  # named by a document, or being published: kept
            try:
                written = target.stat().st_mtime
            except FileNotFoundError:
                written = None
            if before is not None and written is not None and written >= before.timestamp():
                conn.rollback()
                return False
            with suppress(FileNotFoundError):
                target.unlink()
            conn.execute(delete(BOX_BLOBS).where(BOX_BLOBS.c.digest == digest))
        return written is not None

    def orphans(self, *, before: datetime) -> int:
        removed = 0
        for digest in self._files(before):
            if self._remove(digest, before=before):
                removed += 1
        return removed

    def _files(self, before: datetime) -> Iterator[str]:
        """The digests of the files under the root; temporary files a crash left behind
        (older than ``before``) are removed on the way."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if not (folder.is_dir() and len(folder.name) == 2):
                continue
            for item in sorted(folder.iterdir()):
                if len(item.name) == 64 and item.name.startswith(folder.name):
                    yield item.name
                elif item.name.endswith(".tmp") and item.stat().st_mtime < before.timestamp():
                    with suppress(FileNotFoundError):
                        item.unlink()


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _binary(sql: str, params: tuple[object, ...], raw: Any) -> list[Sequence[Any]]:
    """PostgreSQL: the rows of ``sql`` in the binary format (a ``bytea`` as its bytes, not
    the text format's hexadecimal: half the bytes on the wire, no decoding)."""
    cursor: Any = raw.driver_connection.cursor(binary=True)
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _blob_piece(rowid: int, start: int, raw: Any) -> bytes | None:
    """SQLite: :data:`CHUNK` bytes of the row's body from ``start`` (``None``: no row)."""
    try:
        blob = raw.driver_connection.blobopen("box_blobs", "body", rowid, readonly=True)
    except sqlite3.OperationalError:  # the row went away
        return None
    with blob:
        blob.seek(start)
        return bytes(blob.read(CHUNK))


def _sync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
