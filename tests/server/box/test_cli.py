"""``securebox box hold|holds|show`` through the real command on SQLite and PostgreSQL: a
hold set by an operator is audited with their name and reason and stops the deletion; the
record shows the clocks and the digest, never the body."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from securebox_auth.cli import main
from securebox_server.box.model import DeletionRefused, ReadKind
from tests.server.box.conftest import World, box_url, make_world  # noqa: F401 (fixture)


@pytest.fixture
def world(box_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:  # noqa: F811
    made = make_world(box_url)
    monkeypatch.setenv("SECUREBOX_DATABASE_URL", box_url)
    monkeypatch.setenv("SECUREBOX_DEMO", "true")
    yield made
    made.documents.engine.dispose()


def _audit(world: World, action: str) -> list[dict[str, str]]:
    return [
        {"actor": s.event.actor, **dict(s.event.details)}
        for s in world.documents.store.audit_log()
        if s.event.action == action
    ]


def test_an_operator_holds_and_lifts_a_document(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    [doc_id] = world.publish_sample().document_ids
    on = ["box", "hold", doc_id, "--on", "--reason", "court order 2026-17", "--actor", "jdupont"]
    assert main(on) == 0
    assert world.documents.get(doc_id).legal_hold  # type: ignore[union-attr]
    with pytest.raises(DeletionRefused):
        world.documents.delete(doc_id, reason="withdrawn", actor="sender/bank")
    assert main(["box", "holds"]) == 0
    out = capsys.readouterr().out
    assert doc_id in out
    assert "1 documents under a legal hold" in out
    (event,) = _audit(world, "box.document.legal_hold")
    assert event["actor"] == "operator/jdupont"
    assert event["reason"] == "court order 2026-17"
    assert event["hold"] == "true"
    off = ["box", "hold", doc_id, "--off", "--reason", "order lifted", "--actor", "jdupont"]
    assert main(off) == 0
    assert not world.documents.get(doc_id).legal_hold  # type: ignore[union-attr]
    assert main(["box", "holds"]) == 0
    assert "0 documents under a legal hold" in capsys.readouterr().out


def test_show_prints_the_record_without_the_body(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    [doc_id] = world.publish_sample(label="Payslip March").document_ids
    doc = world.documents.get(doc_id)
    assert doc is not None
    world.documents.record_read(doc, world.collaborator, ReadKind.DOWNLOAD)
    assert main(["box", "show", doc_id]) == 0
    out = capsys.readouterr().out
    assert f"sha256: {doc.digest}" in out
    assert "status: live" in out
    assert "legal hold: off" in out
    assert f"valid until: {doc.valid_until.isoformat() if doc.valid_until else '-'}" in out
    assert f"by {world.collaborator.key} (download)" in out
    assert "%PDF" not in out


def test_unknown_documents_and_bad_input(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["box", "show", "nope"]) == 1
    hold = ["box", "hold", "nope", "--on", "--reason", "r", "--actor", "jdupont"]
    assert main(hold) == 1
    [doc_id] = world.publish_sample().document_ids
    assert main(["box", "hold", doc_id, "--on", "--reason", " ", "--actor", "jd"]) == 2
    assert main(["box", "hold", doc_id, "--on", "--reason", "r", "--actor", "j d"]) == 2
    assert "error" in capsys.readouterr().err
    assert not world.documents.get(doc_id).legal_hold  # type: ignore[union-attr]
    assert main(["box", "hold", doc_id, "--reason", "r", "--actor", "jd"]) == 2  # no side
    with pytest.raises(SystemExit):
        main(["box", "hold", doc_id, "--on", "--off", "--reason", "r", "--actor", "jd"])
