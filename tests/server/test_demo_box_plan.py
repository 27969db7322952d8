"""The demo box's plan: the same documents for the same day, a few hundred of them (far
fewer when fast) over eighteen months, valid SIRENs, every document of a defined type, none
in the future, none already past its validity, and a few ending within days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.fr import siren

from securebox_server.box.retention import clocks
from securebox_server.demo_box_plan import COMPANIES, PLANNED_TYPES, Planned, plan

NOW = datetime(2026, 12, 4, tzinfo=UTC)
TYPES = {(t.sender, t.type): t for t in PLANNED_TYPES}


def _ends(p: Planned) -> datetime | None:
    kind = TYPES[p.sender, p.type]
    return clocks(kind, issued_at=p.issued_at, published_at=p.published_at).valid_until


def test_the_same_day_gives_the_same_documents() -> None:
    assert plan(NOW, fast=False) == plan(NOW, fast=False)
    assert plan(NOW, fast=True) == plan(NOW, fast=True)


def test_a_few_hundred_documents_over_eighteen_months_far_fewer_when_fast() -> None:
    full, fast = plan(NOW, fast=False), plan(NOW, fast=True)
    assert 300 <= sum(len(p.companies) for p in full) <= 400
    assert 15 <= sum(len(p.companies) for p in fast) <= 40
    oldest = min(p.issued_at for p in full)
    assert NOW - timedelta(days=560) <= oldest <= NOW - timedelta(days=500)
    assert [p.published_at for p in full] == sorted(p.published_at for p in full)


def test_several_companies_senders_and_themes() -> None:
    documents = plan(NOW, fast=False)
    assert len({c for p in documents for c in p.companies}) == len(COMPANIES) == 3
    assert {p.sender for p in documents} == {"Banque", "Mutuelle-Artisans", "URSSAF", "DGFiP"}
    themes = {TYPES[p.sender, p.type].theme.name for p in documents}
    assert themes == {"statements", "notices", "tax", "payroll", "contracts", "registered"}
    assert any(len(p.companies) > 1 for p in documents)  # one publication to many companies


def test_the_companies_sirens_are_valid() -> None:
    for number, name in COMPANIES:
        assert siren.is_valid(number.value), name
    assert len({number for number, _ in COMPANIES}) == len(COMPANIES)


def test_validity_periods_and_retention_classes() -> None:
    assert {t.validity_days for t in PLANNED_TYPES} >= {None, 180, 365}
    assert {t.retention_class for t in PLANNED_TYPES} == {"commercial", "tax", "social", "none"}
    for t in PLANNED_TYPES:
        assert (t.validity_days is None) == (t.warning_days == 0), t


def test_a_few_documents_end_within_days_and_none_has_ended() -> None:
    ends = [end for p in plan(NOW, fast=False) if (end := _ends(p)) is not None]
    assert all(end > NOW for end in ends)
    assert len([end for end in ends if end <= NOW + timedelta(days=7)]) >= 3


@settings(max_examples=40, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1),
        max_value=datetime(2035, 12, 31),
        timezones=st.just(UTC),
    ),
    st.booleans(),
)
def test_any_day_nothing_in_the_future_nothing_ended(now: datetime, fast: bool) -> None:
    documents = plan(now, fast=fast)
    assert documents
    assert all(p.issued_at < p.published_at <= now for p in documents)
    assert all(end > now for p in documents if (end := _ends(p)) is not None)
    assert all(0 < len(p.label) <= 200 and p.companies for p in documents)
