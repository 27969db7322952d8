"""The Idempotency-Key header: RFC 8941 strings and bare keys, and every malformed value
refused as 400 (never a crash)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import MalformedInput
from securebox_server.api.idempotency import MAX_KEY, IdempotencyKeyMissing, parse_key

PRINTABLE = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=MAX_KEY
)


def quoted(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(PRINTABLE)
def test_a_quoted_string_gives_its_content(key: str) -> None:
    assert parse_key(quoted(key)) == key


@given(st.from_regex(r"[A-Za-z0-9._~:+/=-]{1,100}", fullmatch=True))
def test_a_bare_key_is_taken_as_is(key: str) -> None:
    assert parse_key(key) == key


@given(st.text(max_size=300))
def test_any_value_is_a_key_or_malformed_input(value: str) -> None:
    try:
        key = parse_key(value)
    except MalformedInput:
        return
    assert 1 <= len(key) <= MAX_KEY
    assert all(0x20 <= ord(c) <= 0x7E for c in key)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_key_is_its_own_error(value: str | None) -> None:
    with pytest.raises(IdempotencyKeyMissing):
        parse_key(value)


@pytest.mark.parametrize(
    "value",
    ['"abc', '"a"b', '"a\\x"', "a b", 'a"b', "é", '""', "x" * (MAX_KEY + 1), "a\tb"],
)
def test_malformed_keys(value: str) -> None:
    with pytest.raises(MalformedInput):
        parse_key(value)
