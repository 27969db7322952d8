"""The app builds its DocumentStore from the settings (``blob_store``)."""

from __future__ import annotations

from pathlib import Path

from securebox_server.box.blobs import DatabaseBlobs, FileBlobs
from tests.server.conftest import AppMaker


def test_the_app_holds_a_document_store_on_its_database(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    documents = client.app.state.server.documents  # type: ignore[attr-defined]
    assert documents is not None
    assert isinstance(documents.blobs, DatabaseBlobs)
    assert documents.engine is box.store.engine  # type: ignore[attr-defined]


def test_file_bodies_when_the_settings_say_so(make_app: AppMaker, tmp_path: Path) -> None:
    client, _, _ = make_app(blob_store=f"file:{tmp_path / 'bodies'}")
    documents = client.app.state.server.documents  # type: ignore[attr-defined]
    assert isinstance(documents.blobs, FileBlobs)
    assert documents.blobs.root == tmp_path / "bodies"
