"""BoxReader on SQLite and PostgreSQL: who sees what, one answer for every document one may
not open, complete and duplicate-free pages, read status, and new documents since the
previous visit."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from securebox_auth.entitlements.model import Operation, Theme
from securebox_auth.identity import Principal, Siren
from securebox_auth.stores.protocols import PutAccount
from securebox_server.box.model import DocumentNotFound, DocumentType
from securebox_server.box.reading import BoxReader
from securebox_server.box.search import BoxSearch, ReadFilter
from securebox_server.db.schema import BOX_DOCUMENTS
from tests.server.box.conftest import C1, C2, PAYROLL, SENDER, STATEMENTS, TAX, World

KEY = bytes(range(32))
INSURER = "insurer"
LETTER = DocumentType(INSURER, "letter", "Letter", STATEMENTS, None, 0, "none", 0)


def reader_of(world: World) -> BoxReader:
    return BoxReader(world.documents, world.box, world.catalogue, cursor_key=KEY)


def _mark(world: World, doc_id: str, status: str) -> None:
    with world.documents.engine.begin() as conn:
        conn.execute(
            update(BOX_DOCUMENTS).where(BOX_DOCUMENTS.c.id == doc_id).values(status=status)
        )


def one(world: World, **kwargs: object) -> str:
    (doc_id,) = world.publish_sample(**kwargs).document_ids  # type: ignore[arg-type]
    return doc_id


def ids(page: object) -> list[str]:
    return [x.ref.document_id for x in page.documents]  # type: ignore[attr-defined]


def test_a_collaborator_sees_only_their_theme(box_world: World) -> None:
    reader = reader_of(box_world)
    payslip = one(box_world)
    tax = one(box_world, type_="tax-notice")
    everything = reader.search(box_world.principal, BoxSearch())
    assert set(ids(everything)) == {payslip, tax}
    assert ids(reader.search(box_world.collaborator, BoxSearch())) == [payslip]
    assert reader.open(box_world.collaborator, payslip, Operation.DOWNLOAD).id == payslip
    with pytest.raises(DocumentNotFound):
        reader.open(box_world.collaborator, tax, Operation.VIEW)


def test_one_answer_for_every_document_one_may_not_open(box_world: World) -> None:
    reader = reader_of(box_world)
    tax = one(box_world, type_="tax-notice")
    payslip = one(box_world)
    expiring = one(box_world, companies=(C2,))
    marked = one(box_world)
    box_world.documents.delete(payslip, reason="withdrawn", actor="test")
    _mark(box_world, marked, "expired")
    for who, doc_id in [
        (box_world.collaborator, tax),  # not their theme
        (box_world.principal, payslip),  # deleted
        (box_world.principal, marked),  # expired
        (box_world.principal, "no-such-document"),
        (box_world.principal, "../../etc/passwd"),  # not even an id
        (box_world.accountant, expiring),  # a company they were not invited on
        (box_world.pending, tax),  # invitation not accepted
    ]:
        with pytest.raises(DocumentNotFound) as raised:
            reader.open(who, doc_id, Operation.VIEW)
        assert raised.value.status_hint == 404
    assert set(ids(reader.search(box_world.principal, BoxSearch()))) == {tax, expiring}
    box_world.clock.advance(timedelta(days=181))  # every validity is over (status unchanged)
    with pytest.raises(DocumentNotFound):
        reader.open(box_world.principal, expiring, Operation.VIEW)
    assert ids(reader.search(box_world.principal, BoxSearch())) == []


def test_a_third_party_sees_nothing_before_acceptance(box_world: World) -> None:
    reader = reader_of(box_world)
    on_c1 = one(box_world)
    one(box_world, companies=(C2,))
    assert ids(reader.search(box_world.pending, BoxSearch())) == []
    home = reader.home(box_world.pending, None, session_start=box_world.clock.now())
    assert home.newest.documents == ()
    assert home.companies == ()
    assert ids(reader.search(box_world.accountant, BoxSearch())) == [on_c1]


def test_read_status_and_first_reader(box_world: World) -> None:
    reader = reader_of(box_world)
    first, second = one(box_world), one(box_world)
    assert reader.page(box_world.principal, first).first_read is None
    box_world.clock.advance(timedelta(minutes=5))
    _doc, body = reader.read(box_world.collaborator, first, Operation.VIEW)
    assert body.startswith(b"%PDF")
    box_world.clock.advance(timedelta(minutes=5))
    reader.read(box_world.principal, first, Operation.DOWNLOAD)
    shown = reader.page(box_world.principal, first)
    assert shown.first_read is not None
    assert shown.first_read.reader == box_world.collaborator
    assert shown.type_title == "Payslip"
    read = reader.search(box_world.collaborator, BoxSearch(read=ReadFilter.READ))
    unread = reader.search(box_world.collaborator, BoxSearch(read=ReadFilter.UNREAD))
    assert (ids(read), ids(unread)) == ([first], [second])
    events = [s.event.action for s in box_world.box.audit_log()]
    assert events.count("box.document.view") == 1
    assert events.count("box.document.download") == 1


def test_a_numbers_next_holder_does_not_inherit_its_read_marks(box_world: World) -> None:
    """A user number given again after a removal (ADR 0069): the previous holder's reads
    stay as the senders' evidence (the first read) but are not the new holder's marks, in
    listings, the read filter and the API's ``read``; the new holder's own read counts."""
    reader, store = reader_of(box_world), box_world.box.store
    first, second = one(box_world), one(box_world)
    box_world.clock.advance(timedelta(minutes=5))
    reader.read(box_world.collaborator, first, Operation.VIEW)
    box_world.clock.advance(timedelta(days=1))
    # the account as a removal and a new ``add_user`` leave it: created again, later
    found = store.get_account(box_world.collaborator)
    assert found is not None
    again = replace(found.value, created_at=box_world.clock.now())
    store.commit([PutAccount(box_world.collaborator, found.version, again)], [])
    newest = reader.search(box_world.collaborator, BoxSearch())
    assert newest.documents
    assert not any(x.read for x in newest.documents)
    read = reader.search(box_world.collaborator, BoxSearch(read=ReadFilter.READ))
    assert ids(read) == []
    home = reader.home(box_world.collaborator, None, session_start=box_world.clock.now())
    assert not any(x.read for x in home.newest.documents)
    assert box_world.documents.read_by(box_world.collaborator, [first], again.created_at) == set()
    shown = reader.page(box_world.principal, first).first_read
    assert shown is not None
    assert shown.reader == box_world.collaborator  # the evidence stays
    box_world.clock.advance(timedelta(minutes=1))
    reader.read(box_world.collaborator, second, Operation.VIEW)
    read = reader.search(box_world.collaborator, BoxSearch(read=ReadFilter.READ))
    assert ids(read) == [second]
    home = reader.home(box_world.collaborator, None, session_start=box_world.clock.now())
    assert {x.ref.document_id for x in home.newest.documents if x.read} == {second}


def test_new_documents_since_the_previous_visit(box_world: World) -> None:
    reader = reader_of(box_world)
    clock = box_world.clock
    start = clock.now()
    old = one(box_world)
    first = reader.home(box_world.collaborator, None, session_start=start)
    assert first.since is None
    assert first.new.count == 0
    assert ids(first.newest) == [old]
    clock.advance(timedelta(hours=1))
    one(box_world)  # payroll
    one(box_world, companies=(C2,))  # payroll, another company
    one(box_world, type_="tax-notice")  # not theirs
    again = reader.home(box_world.collaborator, None, session_start=start)
    assert again.since is None  # the same session: the visit is not rotated again
    clock.advance(timedelta(hours=1))
    later = reader.home(box_world.collaborator, None, session_start=clock.now())
    assert later.since == start
    assert later.new.count == 2
    assert not later.new.at_least
    assert reader.home(box_world.collaborator, C2, session_start=start).new.count == 1
    principal = reader.home(box_world.principal, None, session_start=start)
    assert principal.new.count == 0  # their first visit
    assert {c.name for c in principal.companies} == {"ACME", "ACME Services"}
    assert set(principal.themes) == {PAYROLL, TAX, STATEMENTS}
    assert reader.home(box_world.collaborator, None, session_start=start).themes == (PAYROLL,)


def test_company_switcher_narrows_lists(box_world: World) -> None:
    reader = reader_of(box_world)
    on_c1, on_c2 = one(box_world), one(box_world, companies=(C2,))
    assert ids(reader.search(box_world.principal, BoxSearch(company=C1))) == [on_c1]
    home = reader.home(box_world.principal, C2, session_start=box_world.clock.now())
    assert ids(home.newest) == [on_c2]
    assert home.company == C2
    # a company outside the portfolio narrows to nothing
    assert ids(reader.search(box_world.principal, BoxSearch(company=Siren("443061841")))) == []


# -- pages put together against a brute-force model ---------------------------------------


@dataclass(frozen=True, slots=True)
class Fact:
    id: str
    company: Siren
    theme: Theme
    sender: str
    issued_at: datetime
    label: str


def _random_box(world: World, seed: int, count: int) -> tuple[list[Fact], set[str]]:
    """``count`` documents of random companies, types, senders and dates; the collaborator
    read some of them."""
    world.documents.define_type(LETTER)
    rng = random.Random(seed)
    kinds = [
        (SENDER, "payslip", PAYROLL),
        (SENDER, "tax-notice", TAX),
        (INSURER, "letter", STATEMENTS),
    ]
    facts: list[Fact] = []
    for n in range(count):
        sender, type_, theme = rng.choice(kinds)
        company = rng.choice([C1, C2])
        # few distinct dates: ties are broken by id
        issued = world.clock.now() - timedelta(days=rng.randrange(12))
        label = f"{rng.choice(['Payslip', 'Notice', 'Letter'])} {n}"
        doc_id = one(
            world, type_=type_, companies=(company,), issued_at=issued, label=label, sender=sender
        )
        facts.append(Fact(doc_id, company, theme, sender, issued, label))
    read = {f.id for f in facts if f.theme == PAYROLL and rng.random() < 0.4}
    reader = reader_of(world)
    for doc_id in sorted(read):
        reader.read(world.collaborator, doc_id, Operation.VIEW)
    return facts, read


def _expected(facts: list[Fact], search: BoxSearch, read: set[str], who: str) -> list[str]:
    def visible(f: Fact) -> bool:
        return who == "principal" or f.theme == PAYROLL

    mine = read if who == "collaborator" else set()

    ordered = sorted(facts, key=lambda f: (f.issued_at, f.id), reverse=True)
    return [
        f.id
        for f in ordered
        if visible(f)
        and (search.company is None or f.company == search.company)
        and (search.theme is None or f.theme == search.theme)
        and (search.sender is None or f.sender == search.sender)
        and (search.issued_from is None or f.issued_at >= search.issued_from)
        and (search.issued_to is None or f.issued_at < search.issued_to)
        and (search.label is None or search.label.casefold() in f.label.casefold())
        and (search.read is ReadFilter.ANY or (f.id in mine) == (search.read is ReadFilter.READ))
    ]


def _searches(now: datetime) -> st.SearchStrategy[BoxSearch]:
    day = st.integers(0, 12).map(lambda d: now - timedelta(days=d))
    return st.builds(
        BoxSearch,
        limit=st.integers(1, 9),
        theme=st.sampled_from([None, PAYROLL, TAX, STATEMENTS]),
        sender=st.sampled_from([None, SENDER, INSURER]),
        read=st.sampled_from(list(ReadFilter)),
        company=st.sampled_from([None, C1, C2]),
        label=st.sampled_from([None, "payslip", "NOTICE", "1"]),
        issued_from=st.one_of(st.none(), day),
    )


def _walk(reader: BoxReader, who: Principal, search: BoxSearch) -> list[str]:
    got: list[str] = []
    current = search
    for _ in range(500):
        page = reader.search(who, current)
        assert len(page.documents) <= search.limit
        got.extend(ids(page))
        if page.next is None:
            return got
        # through the URL form: sealed, then opened
        current = replace(search, after=reader.cursors.open(reader.cursors.seal(page.next)))
    raise AssertionError("the pages never end")


def _check_pages(world: World, examples: int) -> None:
    facts, read = _random_box(world, seed=7, count=45)
    reader = reader_of(world)
    people = {"principal": world.principal, "collaborator": world.collaborator}

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    @given(search=_searches(world.clock.now()), who=st.sampled_from(sorted(people)))
    def pages_are_the_model(search: BoxSearch, who: str) -> None:
        got = _walk(reader, people[who], search)
        assert len(got) == len(set(got))
        assert got == _expected(facts, search, read, who)

    pages_are_the_model()


def test_pages_put_together_are_the_model(box_world: World) -> None:
    """Hypothesis over searches of a random box (SQLite: many; PostgreSQL: a few)."""
    _check_pages(box_world, 60 if box_world.kind == "sqlite" else 20)
