"""Opaque cursors: what is encoded decodes back; anything else is 400, never a crash."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.entitlements.catalogue import Cursor
from securebox_auth.errors import MalformedInput
from securebox_server.api import cursors

IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", fullmatch=True)
TIMES = st.datetimes(timezones=st.just(UTC))


@given(TIMES, IDS)
def test_catalogue_cursors_round_trip(when: datetime, document_id: str) -> None:
    cursor = Cursor(when, document_id)
    assert cursors.to_catalogue(cursors.from_catalogue(cursor)) == cursor


@given(st.text(max_size=500))
def test_anything_else_is_malformed(text: str) -> None:
    with contextlib.suppress(MalformedInput):
        cursors.to_catalogue(text)


@pytest.mark.parametrize(
    "parts",
    [["2026-01-01T00:00:00", "abc"], ["yesterday", "abc"], ["2026-01-01T00:00:00+00:00", "a b"]],
)
def test_naive_times_and_bad_ids_are_refused(parts: list[str]) -> None:
    with pytest.raises(MalformedInput):
        cursors.to_catalogue(cursors.encode(parts))


def test_the_count_of_parts_is_checked() -> None:
    with pytest.raises(MalformedInput):
        cursors.decode(cursors.encode(["a"]), 2)
    assert cursors.decode(cursors.encode(["a", "b"]), 2) == ["a", "b"]
