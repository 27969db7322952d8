"""The digital box's ingestion: documents a second through ``DocumentStore.publish`` (one
company, a 100 KB PDF body kept in the database, the notifications of its five entitled
users and of the company's address, the feed event and the audit events, in one durable
commit), on SQLite and PostgreSQL, against a bare baseline measured in the same run.

Baseline (``box_rows.py``): the rows one publication wrote, read back from the database
(every table compared before and after one publish), written again by hand for another body
of the same size: one plain ``INSERT`` (``executemany``) per table that received rows and
one ``UPDATE`` per row the publication updated, in one transaction, through the raw
driver, on the same database. What the baseline leaves out is what the store adds: the
checks (document type, subscription, delivery, the idempotency key and the request's
digest), the recipients' entitlement checks, the audit event's seal, SQLAlchemy. The body's
SHA-256 is computed by the upload check, before both (untimed).

Each round publishes one document with a new body (the bodies are made before timing,
each one distinct so that no body is shared) and, interleaved, writes one bare copy.
Reported as measured (no target in the issue: "Benchmarks: ingestion documents/s").
``--quick``: 12 rounds instead of 40.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Final

from backends import LABELS, SQL_KINDS, available, new_url
from box_rows import Bare, snapshot, written
from harness import Comparison, Reading, compare

from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.entitlements.model import (
    Company,
    CompanyScope,
    DocumentScope,
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
from securebox_server.box.blobs import DatabaseBlobs
from securebox_server.box.documents import DocumentStore
from securebox_server.box.model import DocumentType, Draft
from securebox_server.box.samples import sample_pdf
from securebox_server.box.upload import CheckedUpload, check_upload
from securebox_server.settings import DEFAULT_POLICY
from securebox_server.wiring import migrate_database

FULL_ROUNDS: Final = 40
QUICK_ROUNDS: Final = 12
BODY_SIZE: Final = 100_000
CLIENT: Final = "310000001"
COMPANY: Final = Siren("412385676")
USERS: Final = 5  # the principal user and four users who see the whole portfolio
SENDER: Final = "banque"
CONTACT: Final = "compta@boulangerie-martin.example"
ISSUED: Final = datetime(2026, 11, 30, tzinfo=UTC)
TYPE: Final = DocumentType(
    SENDER, "releve-compte", "Relevé de compte", Theme("statements"), None, 0, "commercial", 10
)


def bodies(count: int, start: int = 0) -> list[CheckedUpload]:
    """``count`` distinct checked PDF bodies of about ``BODY_SIZE`` bytes."""
    found = []
    for n in range(start, start + count):
        body = sample_pdf(
            title=f"Relevé de compte n° {n}",
            lines=("Madame, Monsieur,", "Veuillez trouver ci-joint votre relevé."),
            seed=n,
            size_hint=BODY_SIZE,
        )
        found.append(check_upload(body, f"releve-{n}.pdf"))
    return found


def _world(kind: str) -> DocumentStore:
    """A new database of ``kind`` with one subscription: company ``COMPANY``, ``USERS``
    users who see it (so five notifications a document) and the company's address."""
    url = new_url(kind)
    migrate_database(url)
    keys = DerivedKeys.generate()
    store = open_sql_store(url, audit_keys=keys.audit_keyring())
    box = Securebox.from_policy(DEFAULT_POLICY, store=store, keys=keys, argon2=PROFILE_TESTING)
    now = box.clock.now()
    client = ClientId(CLIENT)
    users = [Principal(client, UserNumber(f"{n:02d}")) for n in range(1, USERS + 1)]
    every = Rights(
        CompanyScope.portfolio(),
        DocumentScope.all(),
        frozenset({Operation.VIEW, Operation.DOWNLOAD}),
    )
    sub = Subscription(
        client,
        companies={COMPANY: Company(COMPANY, "Boulangerie Martin SAS", now)},
        themes=frozenset({TYPE.theme}),
        rights=dict.fromkeys(users[1:], every),
    )
    accounts = [Account(users[0], Role.PRINCIPAL_USER, now)]
    accounts += [Account(user, Role.USER, now) for user in users[1:]]
    store.commit(
        [PutSubscription(client, 0, sub), *(PutAccount(a.principal, 0, a) for a in accounts)], []
    )
    engine = store.engine
    documents = DocumentStore(engine, box, DatabaseBlobs(engine), SqlCatalogue(engine))
    documents.define_type(TYPE)
    documents.set_company_contact(client, COMPANY, CONTACT, actor="bench")
    return documents


def _publisher(documents: DocumentStore, pool: Iterator[CheckedUpload]) -> Callable[[], object]:
    count = iter(range(1_000_000))

    def publish() -> object:
        n = next(count)
        draft = Draft(TYPE.type, f"Relevé de compte n° {n}", ISSUED, next(pool))
        return documents.publish(SENDER, draft, [COMPANY], idempotency_key=f"bench-{n}")

    return publish


def _rows(kind: str, rounds: int, subject: list[CheckedUpload], bare: list[CheckedUpload]) -> list[
    Comparison | Reading
]:  # fmt: skip
    label = LABELS[kind]
    documents = _world(kind)
    engine = documents.engine
    try:
        publish = _publisher(documents, iter(subject))
        publish()  # the document counts' row exists: later publications update it
        before = snapshot(engine)
        publish()
        rows = written(before, snapshot(engine))
        hand = Bare(engine, rows)
        pool = iter(bare)
        row = compare(
            (f"box: publish, 100 KB [{label}]", publish),
            ("the same rows by hand, one commit", lambda: hand.write(next(pool).body)),
            target=float("inf"),
            rounds=rounds,
        )
        hand.close()
    finally:
        engine.dispose()
    rate, bare_rate = 1 / row.subject.median_s, 1 / row.baseline.median_s
    return [
        row,
        Reading(
            f"box: documents/s, 100 KB [{label}]",
            rate,
            "docs/s",
            None,
            f"one at a time, each durable; bare rows {bare_rate:.0f}/s; "
            f"a publication writes {rows.describe()}",
        ),
    ]


def run(quick: bool = False) -> list[Comparison | Reading]:
    rounds = QUICK_ROUNDS if quick else FULL_ROUNDS
    # warm-up calls, the two publishes of the snapshot, then one body per round
    subject = bodies(rounds + 3)
    bare = bodies(rounds + 1, start=10_000)
    results: list[Comparison | Reading] = []
    for kind in available(SQL_KINDS):
        results += _rows(kind, rounds, subject, bare)
    return results


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    for result in run(parser.parse_args().quick):
        print(result)
