"""The sender list's opaque cursors: what is encoded decodes back; anything else is 400,
never a crash."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import MalformedInput
from securebox_server.api import cursors

PARTS = st.lists(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40),
    min_size=1,
    max_size=3,
)


@given(PARTS)
def test_cursors_round_trip(parts: list[str]) -> None:
    assert cursors.decode(cursors.encode(parts), len(parts)) == parts


@given(st.text(max_size=500), st.integers(1, 3))
def test_anything_else_is_malformed(text: str, count: int) -> None:
    with contextlib.suppress(MalformedInput):
        parts = cursors.decode(text, count)
        assert len(parts) == count


@pytest.mark.parametrize("text", ["", "é", "x" * 401, cursors.encode(["a", "b"]), "bm90IGpzb24"])
def test_malformed_cursors(text: str) -> None:
    with pytest.raises(MalformedInput):
        cursors.decode(text, 1)


def test_a_sender_cursor_names_a_document_the_store_checks() -> None:
    assert cursors.decode(cursors.encode(["dAbc"]), 1) == ["dAbc"]
    with pytest.raises(MalformedInput):
        cursors.decode(cursors.encode(["x" * 101]), 1)
