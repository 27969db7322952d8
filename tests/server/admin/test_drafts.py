"""The administration forms' parsers (pure): SIRENs checked by python-stdnum, declarations
of third parties; any text either parses or raises MalformedInput (Hypothesis)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Siren
from securebox_server.admin.drafts import (
    Declaration,
    company_add_draft,
    declaration_of,
    formatted,
    parse_siren,
    third_party_draft,
)
from securebox_server.stepup.requests import Kind

PORTFOLIO = frozenset({Siren("732829320"), Siren("552100554")})
sirens = st.from_regex(r"[0-9]{8}", fullmatch=True).map(lambda s: s + luhn.calc_check_digit(s))


@given(sirens, st.sampled_from(["", " ", "."]))
def test_every_valid_siren_parses_however_spaced(value: str, sep: str) -> None:
    typed = sep.join((value[:3], value[3:6], value[6:]))
    parsed = parse_siren(typed)
    assert parsed.value == value
    assert formatted(parsed) == f"{value[:3]} {value[3:6]} {value[6:]}"


@given(sirens, st.integers(1, 9))
def test_a_wrong_check_digit_is_refused(value: str, shift: int) -> None:
    wrong = value[:8] + str((int(value[8]) + shift) % 10)
    with pytest.raises(MalformedInput):
        parse_siren(wrong)


@given(st.text(max_size=40))
def test_any_text_parses_or_is_malformed(text: str) -> None:
    with contextlib.suppress(MalformedInput):
        parse_siren(text)


@given(
    st.text(max_size=30),
    st.text(max_size=30),
    st.text(max_size=60),
    st.lists(st.text(max_size=12), max_size=3),
    st.text(max_size=12),
    st.text(max_size=12),
    st.text(max_size=20),
)
def test_any_declaration_parses_or_is_malformed(
    siren: str, name: str, email: str, companies: list[str], client: str, user: str, mobile: str
) -> None:
    try:
        found = declaration_of(
            siren,
            name,
            email,
            companies,
            client_id=client,
            user_number=user,
            mobile=mobile,
            portfolio=PORTFOLIO,
        )
    except MalformedInput:
        return
    assert found.companies <= PORTFOLIO
    assert (found.invitee is None) != (found.mobile is None)
    assert Declaration.of(third_party_draft(found).details) == found  # the stored round trip


def test_a_declaration_round_trips_through_its_draft() -> None:
    found = declaration_of(
        "552 100 554",
        " Cabinet   Martin ",
        "martin@cabinet.example",
        ["732829320"],
        client_id="",
        user_number="",
        mobile="+33 6 12 34 56 78",
        portfolio=PORTFOLIO,
    )
    draft = third_party_draft(found)
    assert draft.kind is Kind.THIRD_PARTY_INVITE
    assert found.name == "Cabinet Martin"
    assert found.mobile == "+33612345678"
    assert Declaration.of(draft.details) == found


def test_the_company_draft_holds_no_secret() -> None:
    draft = company_add_draft("732 829 320", "ACME")
    assert draft.details == {
        "siren": "732829320",
        "name": "ACME",
        "facts": [["Company", "ACME"], ["SIREN", "732 829 320"]],
    }
