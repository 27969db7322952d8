"""A full disk under the real app (issue 18, "Faults"): a small ``tmpfs`` made by the test
holds the file blob store (catalogue on SQLite and on PostgreSQL), or the SQLite database
itself, filled almost to the brim; uploads go through the senders' ingestion API.

What must hold: the answer is ``507 Insufficient Storage``, an RFC 9457 problem with code
``storage_full`` and a ``Retry-After`` (never a 500, never a trace); nothing is half-written
(no partial or temporary file, no ``box_*`` row, no catalogue row, no notification, no
``box.document.published`` audit event, the audit chain intact); the idempotency key is not
burnt: once space is freed the same request with the same key is published (not a replay)
and the stored body has the right digest; reads keep working while the disk is full, and
the server works again without a restart.

Mounting needs root (the test makes and removes the ``tmpfs`` itself, always, even on
failure); without it the tests are skipped with the reason. ``unshare -rm`` would give a
non-root user a mount namespace, but only to a child process, not to this one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text

from securebox_auth.shell.audit_chains import verify_audit_chains
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.box.samples import sample_pdf
from securebox_server.db import migrate
from securebox_server.web.errors import STORAGE_RETRY_AFTER
from tests.server.api.box_app import *  # noqa: F403 (fixtures)
from tests.server.api.box_app import PUBLISH, BoxApi, running_box_api
from tests.server.box.conftest import C1, C2, CLIENT
from tests.server.clients.helpers import token_response
from tests.server.conftest import token as csrf
from tests.stores.conftest import sqlite_copy

#: A PDF well over what is left free (the upload checks pass it).
BODY_SIZE = 64 * 1024
#: A PDF the multipart parser writes to a temporary file (its memory spool is 1 MiB).
SPOOLED = 1536 * 1024


def big_pdf(seed: int) -> bytes:
    return sample_pdf(
        title="Statement", lines=[f"Reference {seed}"], seed=seed, size_hint=BODY_SIZE
    )


def _mount_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"no {name} command on this machine")
    return found


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A ``tmpfs`` of ``size`` mounted on ``where``, unmounted at the end whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the disk-full tests make their own)")
    mount, umount = _mount_tool("mount"), _mount_tool("umount")
    where.mkdir()
    mounted = subprocess.run(  # noqa: S603 - fixed arguments, a folder of the test's own
        [mount, "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mount -t tmpfs was refused: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run([umount, str(where)], check=False).returncode != 0:  # noqa: S603
            # A file still open (a connection not yet collected): detach it anyway.
            subprocess.run([umount, "--lazy", str(where)], check=True)  # noqa: S603


def free_bytes(where: Path) -> int:
    found = os.statvfs(where)
    return found.f_bavail * found.f_frsize


def fill(where: Path, *, leave: int) -> Path:
    """A file taking all but ``leave`` bytes of ``where``'s filesystem."""
    filler = where / "filler"
    with filler.open("wb") as out:
        out.write(b"\0" * max(free_bytes(where) - leave, 0))
        out.flush()
        os.fsync(out.fileno())
    assert free_bytes(where) <= leave
    return filler


def files_under(where: Path) -> list[str]:
    return sorted(str(p.relative_to(where)) for p in where.rglob("*") if p.is_file())


def storage_full(answer: Response) -> None:
    """The refusal: 507, an RFC 9457 problem with its stable code, a Retry-After."""
    assert answer.status_code == 507, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == str(STORAGE_RETRY_AFTER)
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == "storage_full"
    assert problem["status"] == 507
    assert problem["type"] == "/problems/storage_full"
    assert "Traceback" not in answer.text
    assert "Errno" not in answer.text


def rows(api: BoxApi) -> dict[str, int]:
    """Every box table, the catalogue, and the publication audit events."""
    found = api.counts()
    with api.world.documents.engine.connect() as conn:
        found["catalogue"] = conn.execute(text("SELECT count(*) FROM documents")).scalar_one()
        found["published_events"] = conn.execute(
            text("SELECT count(*) FROM audit_events WHERE action = 'box.document.published'")
        ).scalar_one()
    return found


def published(api: BoxApi, answer: Response, body: bytes) -> list[str]:
    """A first publication (not a replay) of ``body``: the ids of its documents, each
    serving exactly ``body``."""
    assert answer.status_code == 201, answer.text
    assert "idempotent-replayed" not in answer.headers
    out = answer.json()
    assert out["digest"] == hashlib.sha256(body).hexdigest()
    ids = [r["document_id"] for r in out["results"] if r["status"] == "published"]
    for document_id in ids:
        doc = api.world.documents.get(document_id)
        assert doc is not None
        assert api.world.documents.body(doc) == body
    return ids


def chain_intact(api: BoxApi) -> None:
    verify_audit_chains(api.world.keys.audit_keyring(), api.world.box.store)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB filesystem for the blob store."""
    with tmpfs(tmp_path / "small", "1m") as where:
        yield where


def test_a_full_blob_store_refuses_the_upload_and_keeps_nothing(
    box_url: str, small_disk: Path
) -> None:
    """ASVS 5.0 V16.5.2, V16.5.3 (fail gracefully and securely when a resource fails),
    V2.3.3 (a publication succeeds in its entirety or not at all); PSD2 RTS art. 22 (the
    audit trail stays intact). Bodies in files on a full 1 MiB tmpfs, catalogue on SQLite
    and on PostgreSQL: 507 ``storage_full``, no file left, no row, no notification, no
    audit event, and the same key publishes once space is freed."""
    blobs = small_disk / "blobs"
    with running_box_api(box_url, blob_store=f"file:{blobs}") as api:
        token = api.token(api.sender)
        first = big_pdf(1)
        first_ids = published(api, api.publish("k-before", first, headers=token), first)
        kept = files_under(small_disk)
        filler = fill(small_disk, leave=16 * 1024)
        before = rows(api)
        body = big_pdf(2)
        companies = [C1.value, C2.value]

        storage_full(api.publish("k-full", body, companies=companies, headers=token))
        storage_full(api.publish("k-full", body, companies=companies, headers=token))

        assert files_under(small_disk) == sorted([*kept, "filler"])  # no partial, no .tmp
        assert rows(api) == before
        chain_intact(api)
        listed = api.client.get(PUBLISH, headers=token)  # reads go on
        assert listed.status_code == 200, listed.text
        assert {d["id"] for d in listed.json()["documents"]} == set(first_ids)
        served = api.client.get(
            f"/api/v1/receiver/documents/{first_ids[0]}/content",
            headers=api.token(api.receiver_c1),
        )
        assert served.status_code == 200, served.text
        assert served.content == first

        filler.unlink()
        ids = published(api, api.publish("k-full", body, companies=companies, headers=token), body)
        assert len(ids) == 2
        digest = hashlib.sha256(body).hexdigest()
        stored = blobs / digest[:2] / digest
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
        after = rows(api)
        assert after["box_documents"] == before["box_documents"] + 2
        assert after["published_events"] == before["published_events"] + 2
        assert after["box_notifications"] > before["box_notifications"]
        assert not [f for f in files_under(small_disk) if f.endswith(".tmp")]
        chain_intact(api)


@pytest.fixture
def database_on_small_disk(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[str, Path]]:
    """A migrated SQLite database alone on a 4 MiB tmpfs: its URL and the folder."""
    with tmpfs(tmp_path / "small", "4m") as where:
        url = sqlite_copy(sqlite_template, where)
        engine = create_engine(url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        yield url, where


def login_step(browser: TestClient) -> Response:
    """The login form's first two steps (identifying the user is a write: the flow)."""
    page = browser.get("/login")
    assert page.status_code == 200, page.text
    page = browser.post("/login", data={"client_id": CLIENT.value, "csrf_token": csrf(page.text)})
    assert page.status_code == 200, page.text
    answer: Response = browser.post(
        "/login/user",
        data={"client_id": CLIENT.value, "user_number": "01", "csrf_token": csrf(page.text)},
        follow_redirects=False,
    )
    return answer


def test_a_full_sqlite_disk_refuses_writes_keeps_reads_and_recovers(
    database_on_small_disk: tuple[str, Path],
) -> None:
    """ASVS 5.0 V16.5.2, V16.5.3 (graceful degradation, no fail-open, no trace), V2.3.3
    (all or nothing). The SQLite database (catalogue, bodies, audit) on a full tmpfs: a
    publication, a token request, a mark-read and a login page's step answer 507
    ``storage_full`` (a problem, or the error page) with nothing written; the sender's and
    the receiver's listings still answer; once space is freed every one of them works again,
    the same key publishing, without a restart."""
    url, where = database_on_small_disk
    with running_box_api(url) as api:
        token = api.token(api.sender)
        receiver = api.token(api.receiver_c1)
        first = big_pdf(3)
        first_ids = published(api, api.publish("k-before", first, headers=token), first)
        read = f"/api/v1/receiver/documents/{first_ids[0]}/read"
        browser = TestClient(api.client.app, raise_server_exceptions=False)
        filler = fill(where, leave=0)
        before = rows(api)
        body = big_pdf(4)

        storage_full(api.publish("k-full", body, headers=token))
        storage_full(api.publish("k-full", body, headers=token))
        storage_full(token_response(api.client, api.receiver_c2))
        storage_full(api.client.post(read, headers=receiver))
        page = login_step(browser)
        assert page.status_code == 507, page.text
        assert page.headers["retry-after"] == str(STORAGE_RETRY_AFTER)
        assert "Le service ne peut pas enregistrer cela" in page.text
        assert "Traceback" not in page.text

        assert rows(api) == before
        listed = api.client.get(PUBLISH, headers=token)
        assert listed.status_code == 200, listed.text
        assert [d["id"] for d in listed.json()["documents"]] == first_ids
        mine = api.client.get("/api/v1/receiver/documents", headers=receiver)
        assert mine.status_code == 200, mine.text

        filler.unlink()
        ids = published(api, api.publish("k-full", body, headers=token), body)
        assert len(ids) == 1
        assert token_response(api.client, api.receiver_c2).status_code == 200
        marked = api.client.post(read, headers=receiver)
        assert marked.status_code == 200, marked.text
        assert login_step(browser).status_code == 303
        after = rows(api)
        assert after["box_documents"] == before["box_documents"] + 1
        assert after["published_events"] == before["published_events"] + 1
        chain_intact(api)


def test_a_full_temporary_folder_while_the_body_is_read_is_507_and_leaks_nothing(
    server_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ASVS 5.0 V16.5.2, V16.5.3 (fail gracefully when a resource fails, no trace), V2.3.3.
    The multipart parser spools a file part over 1 MiB to the temporary folder; that folder
    on a full tmpfs: the upload answers 507 ``storage_full`` (not the last net's 503), no
    temporary file is left and the space it took is given back; once space is freed the
    same key publishes."""
    body = sample_pdf(title="Annual statement", lines=["Reference 5"], seed=5, size_hint=SPOOLED)
    with tmpfs(tmp_path / "small", "4m") as small_disk, running_box_api(server_sqlite_url) as api:
        monkeypatch.setattr(tempfile, "tempdir", str(small_disk))
        token = api.token(api.sender)
        filler = fill(small_disk, leave=64 * 1024)
        free = free_bytes(small_disk)
        before = rows(api)

        storage_full(api.publish("k-spooled", body, headers=token))

        assert files_under(small_disk) == ["filler"]
        assert free_bytes(small_disk) == free
        assert rows(api) == before
        filler.unlink()
        published(api, api.publish("k-spooled", body, headers=token), body)
