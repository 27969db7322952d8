"""A digital box on SQLite and on PostgreSQL, with a small world (for every box test).

``box_world`` (parametrised: ``sqlite``, ``postgresql``; ``blobs`` for the file store)
gives a :class:`World`: a migrated database with both histories, a ``Securebox`` on a
``FixedClock`` at :data:`T0`, a :class:`~securebox_server.box.documents.DocumentStore`,
and one subscription :data:`CLIENT` holding companies :data:`C1` and :data:`C2`, themes
payroll, tax and statements, with

* :attr:`World.principal` (01, principal user) and :attr:`World.admin` (02, administrator,
  every right);
* :attr:`World.collaborator` (03): every company, the payroll theme only, view/download;
* :attr:`World.accountant` (accepted third party, user 01 of :data:`OTHER`): company C1,
  every document; :attr:`World.pending` (user 02 of :data:`OTHER`): a pending invitation;
* a sender :data:`SENDER` with types ``payslip`` (payroll, valid 180 days, warned 15 days
  before, no retention) and ``tax-notice`` (tax, valid 30 days, kept 10 years).

``world.publish_sample(...)`` publishes a document (a real sample PDF, checked by
``check_upload``, unless ``body=`` gives other bytes) and returns the :class:`Publication`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Final

import pytest
from sqlalchemy import text

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.entitlements.model import (
    THIRD_PARTY_OPERATIONS,
    Company,
    CompanyScope,
    DocumentScope,
    Invitation,
    InvitationStatus,
    Operation,
    Rights,
    Subscription,
    Theme,
)
from securebox_auth.identity import ClientId, Principal, Siren, UserNumber
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.stores.protocols import PutAccount, PutSubscription
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.box.blobs import BlobStore, DatabaseBlobs, FileBlobs
from securebox_server.box.documents import DocumentStore
from securebox_server.box.model import CheckedUpload, DocumentType, Draft, Publication
from securebox_server.box.samples import sample_pdf
from securebox_server.box.upload import check_upload
from securebox_server.db.schema import METADATA as SERVER_METADATA
from securebox_server.settings import DEFAULT_POLICY
from tests.server.rate_limits.conftest import (  # noqa: F401 (fixtures, found by name)
    server_postgres_url,
    server_sqlite_url,
)
from tests.stores.conftest import (  # noqa: F401 (fixtures, found by name)
    empty_postgresql,
    postgres_admin_url,
    sqlite_template,
)

T0: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CLIENT: Final = ClientId("123456789")
OTHER: Final = ClientId("987654321")
C1: Final = Siren("732829320")
C2: Final = Siren("552100554")
#: A SIREN in no subscription.
NOWHERE: Final = Siren("443061841")
PAYROLL, TAX, STATEMENTS = Theme("payroll"), Theme("tax"), Theme("statements")
SENDER: Final = "bank-back-office"
PAYSLIP: Final = DocumentType(SENDER, "payslip", "Payslip", PAYROLL, 180, 15, "payroll", 0)
TAX_NOTICE: Final = DocumentType(SENDER, "tax-notice", "Tax notice", TAX, 30, 5, "tax", 10)
CREATED: Final = T0 - timedelta(days=30)


def who(client: ClientId, number: str) -> Principal:
    return Principal(client, UserNumber(number))


def upload(body: bytes, filename: str = "document.pdf") -> CheckedUpload:
    """Any bytes, as if the upload checks had passed them (tests of storage only)."""
    digest = hashlib.sha256(body).hexdigest()
    return CheckedUpload(body, digest, len(body), "application/pdf", filename, 1)


def sample_upload(title: str, seed: int) -> CheckedUpload:
    """A real, checked PDF (:func:`~securebox_server.box.samples.sample_pdf`)."""
    body = sample_pdf(title=title, lines=[f"Sample document {seed}", "securebox"], seed=seed)
    return check_upload(body, f"{title}.pdf")


PRINCIPAL: Final = who(CLIENT, "01")
ADMIN: Final = who(CLIENT, "02")
COLLABORATOR: Final = who(CLIENT, "03")
ACCOUNTANT: Final = who(OTHER, "01")
PENDING: Final = who(OTHER, "02")


@dataclass
class World:
    kind: str
    url: str
    keys: DerivedKeys
    box: Securebox
    clock: FixedClock
    documents: DocumentStore
    blobs: BlobStore
    catalogue: SqlCatalogue
    published: int = 0
    principal: ClassVar[Principal] = PRINCIPAL
    admin: ClassVar[Principal] = ADMIN
    collaborator: ClassVar[Principal] = COLLABORATOR
    accountant: ClassVar[Principal] = ACCOUNTANT
    pending: ClassVar[Principal] = PENDING

    def publish_sample(
        self,
        *,
        type_: str = "payslip",
        companies: Sequence[Siren] = (C1,),
        label: str | None = None,
        body: bytes | None = None,
        key: str | None = None,
        issued_at: datetime | None = None,
        sender: str = SENDER,
    ) -> Publication:
        """Publish a document: ``body`` (any bytes), else a fresh real PDF; a fresh key
        unless given."""
        self.published += 1
        n = self.published
        label = label or f"Document {n}"
        draft = Draft(
            type=type_,
            label=label,
            issued_at=issued_at or self.clock.now() - timedelta(days=1),
            upload=upload(body) if body is not None else sample_upload(label, n),
        )
        return self.documents.publish(
            sender, draft, list(companies), idempotency_key=key or f"sample-{n}"
        )


def seed_world(box: Securebox) -> None:
    """The subscription, its users and the third parties of :class:`World`."""
    store = box.store
    pu, admin, collab = who(CLIENT, "01"), who(CLIENT, "02"), who(CLIENT, "03")
    accountant, pending = who(OTHER, "01"), who(OTHER, "02")
    accounts = [
        Account(pu, Role.PRINCIPAL_USER, CREATED),
        Account(admin, Role.ADMINISTRATOR, CREATED),
        Account(collab, Role.USER, CREATED),
        Account(accountant, Role.PRINCIPAL_USER, CREATED),
        Account(pending, Role.USER, CREATED),
    ]
    invited = {
        "inv-accepted": (accountant, InvitationStatus.ACCEPTED),
        "inv-pending": (pending, InvitationStatus.PENDING),
    }
    sub = Subscription(
        CLIENT,
        companies={C1: Company(C1, "ACME", CREATED), C2: Company(C2, "ACME Services", CREATED)},
        themes=frozenset({PAYROLL, TAX, STATEMENTS}),
        rights={
            admin: Rights.everything(),
            collab: Rights(
                CompanyScope.portfolio(),
                DocumentScope(themes=frozenset({PAYROLL})),
                frozenset({Operation.VIEW, Operation.DOWNLOAD}),
            ),
        },
        invitations={
            inv_id: Invitation(
                id=inv_id,
                invitee=invitee,
                companies=frozenset({C1}),
                documents=DocumentScope.all(),
                operations=THIRD_PARTY_OPERATIONS,
                invited_by=pu,
                created_at=T0 - timedelta(days=1),
                expires_at=T0 + timedelta(days=365),
                status=status,
                decided_at=T0 - timedelta(hours=1) if status is InvitationStatus.ACCEPTED else None,
            )
            for inv_id, (invitee, status) in invited.items()
        },
    )
    other = Subscription(OTHER, themes=frozenset({TAX}))
    store.commit(
        [
            *(PutAccount(a.principal, 0, a) for a in accounts),
            PutSubscription(CLIENT, 0, sub),
            PutSubscription(OTHER, 0, other),
        ],
        [AuditEvent.make(T0, "test.seed", actor="test", subject=CLIENT.value, outcome="ok")],
    )


def _empty_postgresql(url: str) -> None:
    engine = create_engine(url)
    try:
        empty_postgresql(engine)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(SERVER_METADATA.tables)}"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def box_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind with the library's and the server's tables."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("server_sqlite_url")
        return url
    url = request.getfixturevalue("server_postgres_url")
    _empty_postgresql(url)
    return url


def make_world(
    url: str,
    blobs_root: Path | None = None,
    *,
    keys: DerivedKeys | None = None,
    seed: bool = True,
) -> World:
    """A world on ``url``; ``seed=False`` and the first world's ``keys``: another
    "process" of the same deployment (its own engine, store and caches)."""
    keys = keys or DerivedKeys.generate()
    clock = FixedClock(T0)
    store = open_sql_store(url, audit_keys=keys.audit_keyring(), migrate=False)
    box = Securebox.from_policy(
        DEFAULT_POLICY, store=store, keys=keys, clock=clock, argon2=PROFILE_TESTING
    )
    if seed:
        seed_world(box)
    engine = store.engine
    blobs: BlobStore = (
        DatabaseBlobs(engine) if blobs_root is None else FileBlobs(engine, blobs_root)
    )
    catalogue = SqlCatalogue(engine)
    documents = DocumentStore(engine, box, blobs, catalogue)
    if seed:
        documents.define_type(PAYSLIP)
        documents.define_type(TAX_NOTICE)
    kind = engine.dialect.name
    return World(kind, url, keys, box, clock, documents, blobs, catalogue)


@pytest.fixture
def box_world(box_url: str) -> Iterator[World]:
    """The world on each database, bodies in the database."""
    world = make_world(box_url)
    yield world
    world.documents.engine.dispose()


@pytest.fixture
def file_world(box_url: str, tmp_path: Path) -> Iterator[World]:
    """The world on each database, bodies in files under ``tmp_path / "blobs"``."""
    world = make_world(box_url, tmp_path / "blobs")
    yield world
    world.documents.engine.dispose()
