"""The demo's digital box, seeded by ``demo_data.seed`` (fast) on SQLite and PostgreSQL:
every document published through the store (one publication, one audit event per
document), each demo user seeing what their rights say and nothing else, the accountant
only after their accepted invitation, read and unread documents, a previous visit, and
documents ending within days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from securebox_auth.clock import SystemClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.entitlements.model import Operation
from securebox_auth.identity import Principal
from securebox_server.box.documents import DocumentStore
from securebox_server.box.model import BoxDocument
from securebox_server.box.names import sender_names
from securebox_server.box.rows import reference
from securebox_server.demo_box import ACCOUNTANT, ACCOUNTANT_CODE, BAKERY_CONTACT
from securebox_server.demo_box_plan import BAKERY, SCI, SENDER_NAMES, TRANSPORT
from securebox_server.demo_data import CLIENT, prepare, seed
from securebox_server.settings import load_settings
from securebox_server.wiring import build_documents, build_securebox
from tests.server.box.conftest import box_url  # noqa: F401 (fixtures, found by name)
from tests.server.rate_limits.conftest import (  # noqa: F401
    server_postgres_url,
    server_sqlite_url,
)
from tests.stores.conftest import (  # noqa: F401
    empty_postgresql,
    postgres_admin_url,
    sqlite_template,
)


def _seeded(url: str, folder: Path, *, fast: bool) -> tuple[DocumentStore, list[str]]:
    environ = {
        "SECUREBOX_DATABASE_URL": url,
        "SECUREBOX_MASTER_KEY_FILE": str(folder / "master.key"),
        "SECUREBOX_PUBLIC_URL": "http://localhost:8000",
        "SECUREBOX_DEMO": "true",
        **prepare(folder),
    }
    lines = seed(environ, fast=fast)
    box = build_securebox(load_settings(environ), argon2=PROFILE_TESTING)
    documents = build_documents(load_settings(environ), box)
    assert documents is not None
    return documents, lines


@pytest.fixture
def demo(box_url: str, tmp_path: Path) -> Iterator[tuple[DocumentStore, list[str]]]:  # noqa: F811
    documents, lines = _seeded(box_url, tmp_path, fast=True)
    yield documents, lines
    documents.engine.dispose()


def _all(documents: DocumentStore) -> list[BoxDocument]:
    with documents.engine.connect() as conn:
        ids = conn.execute(text("SELECT id FROM box_documents ORDER BY id")).scalars().all()
    found = [documents.get(i) for i in ids]
    return [d for d in found if d is not None]


def _visible(documents: DocumentStore, who: Principal, docs: list[BoxDocument]) -> set[str]:
    check = documents.securebox.entitlements.check
    return {d.id for d in docs if check(who, Operation.VIEW, reference(d)).allowed}


def test_the_demo_box(demo: tuple[DocumentStore, list[str]]) -> None:
    """One test per database: seeding takes a second or two."""
    documents, lines = demo
    docs = _all(documents)
    assert 15 <= len(docs) <= 40
    with documents.engine.connect() as conn:
        published = conn.execute(
            text("SELECT count(*) FROM audit_events WHERE action = 'box.document.published'")
        ).scalar()
        keys = conn.execute(text("SELECT count(*) FROM box_publications")).scalar()
    assert published == len(docs)  # every one through DocumentStore.publish
    assert keys is not None
    assert 0 < keys < len(docs)  # one publication went to the three companies

    def user(number: str) -> Principal:
        return Principal.parse(CLIENT, number)

    every = {d.id for d in docs}
    assert _visible(documents, user("01"), docs) == every
    assert _visible(documents, user("02"), docs) == every
    assert _visible(documents, user("03"), docs) == {
        d.id for d in docs if d.company == BAKERY and d.theme.name == "payroll"
    }
    assert _visible(documents, user("03"), docs)
    accountant = _visible(documents, ACCOUNTANT, docs)
    assert accountant == {
        d.id
        for d in docs
        if d.company in {BAKERY, TRANSPORT} and d.theme.name in {"tax", "payroll", "statements"}
    }
    assert accountant
    for reader in (user("03"), ACCOUNTANT):  # they read only what they may see
        seen = documents.read_by(reader, [d.id for d in docs])
        assert seen
        assert seen <= _visible(documents, reader, docs)
    assert not any(d.company == SCI for d in docs if d.id in accountant)
    assert any(ACCOUNTANT_CODE in line for line in lines)
    box = documents.securebox
    assert box.codes.login(ACCOUNTANT.client_id.value, "01", ACCOUNTANT_CODE).authenticated
    subscription = box.store.get_subscription(user("01").client_id)
    assert subscription is not None
    (invitation,) = subscription.value.invitations.values()
    assert invitation.decided_at is not None  # accepted before the first document came
    assert invitation.decided_at < min(d.published_at for d in docs)
    assert any("documents from the bank" in line for line in lines)
    # read and unread documents, a previous visit, documents ending within days
    boss = user("01")
    read = documents.read_by(boss, [d.id for d in docs])
    assert 0 < len(read) < len(docs)
    now = SystemClock().now()
    assert all(d.published_at <= now for d in docs)
    newest = max(d.published_at for d in docs)
    assert not {d.id for d in docs if d.published_at == newest} & read
    previous = documents.visit(boss)
    assert previous is not None
    assert now - timedelta(days=11) < previous < now - timedelta(days=8)
    ending = [d for d in docs if d.valid_until and now < d.valid_until < now + timedelta(days=8)]
    assert len(ending) >= 3
    assert all(d.warn_at is not None and d.warn_at < now for d in ending)
    first = documents.first_read(sorted(read)[0])
    assert first is not None
    # a registered letter under legal hold, the bakery's notification address
    held = [d for d in docs if d.legal_hold]
    assert [(d.sender, d.type) for d in held] == [("URSSAF", "lre")]
    assert documents.company_contact(boss.client_id, BAKERY) == BAKERY_CONTACT


@pytest.mark.slow
def test_the_full_demo_box_holds_a_few_hundred_documents(
    server_sqlite_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    documents, _ = _seeded(server_sqlite_url, tmp_path, fast=False)
    try:
        docs = _all(documents)
        assert 300 <= len(docs) <= 400
        assert len({d.sender for d in docs}) == 4
        assert len({d.theme for d in docs}) == 6
        oldest = min(d.issued_at for d in docs)
        assert oldest < SystemClock().now() - timedelta(days=500)
    finally:
        documents.engine.dispose()


def test_the_demo_senders_have_display_names(demo: tuple[DocumentStore, list[str]]) -> None:
    documents, _ = demo
    assert sender_names(documents.engine) == dict(SENDER_NAMES)
