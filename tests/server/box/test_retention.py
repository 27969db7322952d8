"""box/retention.py: the validity and retention clocks, and the one deletion decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from securebox_server.box.model import Status
from securebox_server.box.retention import (
    Deletion,
    clocks,
    deletion,
    on_validity_end,
    years_after,
)
from tests.server.box.conftest import PAYSLIP, T0, TAX_NOTICE

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)
statuses = st.sampled_from(list(Status))


def test_clocks_of_a_new_document() -> None:
    issued = T0 - timedelta(days=3)
    payslip = clocks(PAYSLIP, issued_at=issued, published_at=T0)
    assert payslip.valid_until == T0 + timedelta(days=180)
    assert payslip.warn_at == T0 + timedelta(days=165)
    assert payslip.retain_until == issued  # no retention
    tax = clocks(TAX_NOTICE, issued_at=issued, published_at=T0)
    assert tax.retain_until == issued.replace(year=issued.year + 10)


def test_a_warning_before_the_publication_is_not_given() -> None:
    from dataclasses import replace  # noqa: PLC0415

    short = replace(PAYSLIP, validity_days=10, warning_days=15)
    assert clocks(short, issued_at=T0, published_at=T0).warn_at is None
    endless = replace(PAYSLIP, validity_days=None)
    found = clocks(endless, issued_at=T0, published_at=T0)
    assert (found.valid_until, found.warn_at) == (None, None)


def test_the_29th_of_february_becomes_the_28th() -> None:
    leap = datetime(2024, 2, 29, 12, tzinfo=UTC)
    assert years_after(leap, 1) == datetime(2025, 2, 28, 12, tzinfo=UTC)
    assert years_after(leap, 4) == datetime(2028, 2, 29, 12, tzinfo=UTC)


@given(statuses, moments, st.booleans(), moments)
def test_deletion_is_allowed_only_after_retention_and_without_hold(
    status: Status, retain_until: datetime, hold: bool, now: datetime
) -> None:
    verdict = deletion(status=status, retain_until=retain_until, legal_hold=hold, now=now)
    if status is Status.DELETED:
        assert verdict is Deletion.DELETED
    elif hold:
        assert verdict is Deletion.LEGAL_HOLD
    elif now < retain_until:
        assert verdict is Deletion.RETENTION
    else:
        assert verdict is Deletion.ALLOWED


@given(statuses, st.none() | moments, moments, st.booleans(), moments)
def test_the_end_of_validity_never_deletes_what_deletion_forbids(
    status: Status, valid_until: datetime | None, retain_until: datetime, hold: bool, now: datetime
) -> None:
    then = on_validity_end(
        status=status, valid_until=valid_until, retain_until=retain_until, legal_hold=hold, now=now
    )
    allowed = deletion(status=status, retain_until=retain_until, legal_hold=hold, now=now)
    if then is Status.DELETED:
        assert allowed is Deletion.ALLOWED
    if status is Status.LIVE and (valid_until is None or now < valid_until):
        assert then is None  # validity runs: nothing happens
    if then is Status.EXPIRED:
        assert status is Status.LIVE
        assert allowed in (Deletion.RETENTION, Deletion.LEGAL_HOLD)
    if status is Status.DELETED:
        assert then is None
