"""Cursors in page links: a round trip, and any change or another key is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.entitlements.catalogue import Cursor
from securebox_auth.errors import MalformedInput
from securebox_server.box.cursors import BadCursor, CursorSeal

KEY = bytes(range(32))
SEAL = CursorSeal(KEY)

cursors = st.builds(
    Cursor,
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", fullmatch=True),
)


@given(cursors)
def test_a_sealed_cursor_opens_to_itself(cursor: Cursor) -> None:
    token = SEAL.seal(cursor)
    assert token.isascii()
    assert len(token) <= 200
    assert SEAL.open(token) == cursor


@given(cursors, st.data())
def test_any_changed_character_is_refused(cursor: Cursor, data: st.DataObject) -> None:
    token = SEAL.seal(cursor)
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("ABCabc012-_.=").filter(lambda c: c != token[index]))
    changed = token[:index] + replacement + token[index + 1 :]
    try:
        opened = SEAL.open(changed)
    except BadCursor:
        return
    # base64 without padding: a changed last character may decode to the same bytes
    assert opened == cursor


@given(st.text(max_size=300))
def test_garbage_is_refused_cleanly(text: str) -> None:
    with pytest.raises(BadCursor):
        SEAL.open(text)


def test_a_cursor_of_another_key_is_refused() -> None:
    cursor = Cursor(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=7), "doc-1")
    other = CursorSeal(b"\x01" * 32).seal(cursor)
    with pytest.raises(BadCursor) as raised:
        SEAL.open(other)
    assert raised.value.status_hint == 400
    assert raised.value.code == "bad_cursor"


def test_a_short_key_is_refused() -> None:
    with pytest.raises(MalformedInput):
        CursorSeal(b"short")
