"""What a share may ask (``share_request``): one plain address, a short plain note; any
other input is a ShareRefused (a MalformedInput the server explains), never another error,
and nothing accepted can break a mail header."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import MalformedInput
from securebox_server.box.shares import MAX_NOTE, ShareRefused, share_request
from securebox_server.web.explained import Explained


@pytest.mark.parametrize(
    "address",
    ["a@b.example", "first.last+box@sub.firm.example", "o'brien@firm.ie", "x_y-z@a-b.fr"],
)
def test_plain_addresses_are_taken(address: str) -> None:
    assert share_request(f" {address}\n").address == address


@pytest.mark.parametrize(
    "address",
    [
        "",
        "nobody",
        "a@b",
        "a@@b.example",
        ".a@b.example",
        "a..b@c.example",
        "a@-b.example",
        "a@b.example.",
        "a b@c.example",
        "a@b.example,c@d.example",
        "a@b.example;c@d.example",
        "Eve <eve@evil.example>",
        '"eve"@evil.example',
        "eve@evil.example\nBcc: x@y.example",
        "élodie@firm.example",
        "a@" + "b" * 250 + ".example",
    ],
)
def test_anything_else_is_refused(address: str) -> None:
    with pytest.raises(ShareRefused):
        share_request(address)


def test_the_note() -> None:
    assert share_request("a@b.example", "  Hello,\r\nsee attached.  ").note == (
        "Hello,\nsee attached."
    )
    assert share_request("a@b.example", "x" * MAX_NOTE).note == "x" * MAX_NOTE
    for bad in ("x" * (MAX_NOTE + 1), "tab\there", "bell\a", "line\u2028separator"):
        with pytest.raises(ShareRefused):
            share_request("a@b.example", bad)


def test_the_language_falls_back_to_the_default() -> None:
    assert share_request("a@b.example", "", "en").language == "en"
    assert share_request("a@b.example", "", "xx").language == "fr"
    assert share_request("a@b.example", "", None).language == "fr"


@given(
    st.one_of(st.text(max_size=300), st.binary(max_size=40), st.none(), st.integers()),
    st.one_of(st.text(max_size=600), st.none()),
)
def test_any_input_is_taken_or_refused_with_an_explanation(address: object, note: object) -> None:
    refused: ShareRefused | None = None
    try:
        request = share_request(address, note)
    except ShareRefused as exc:
        refused = exc
    if refused is not None:
        assert isinstance(refused, MalformedInput)
        assert isinstance(refused, Explained)
        assert str(refused).endswith(".")
        return
    assert request.address.isascii()
    assert not any(c in request.address for c in ' \t\r\n,;<>"()')
    assert len(request.note) <= MAX_NOTE


def test_a_request_does_not_show_its_address_or_note() -> None:
    request = share_request("secret-person@firm.example", "confidential")
    assert "secret-person" not in repr(request)
    assert "confidential" not in repr(request)
