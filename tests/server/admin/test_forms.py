"""The forms of the administration pages (pure): profiles need a phone and an e-mail,
rights round-trip through the JSON of a step-up draft (Hypothesis), and anything else is
refused with MalformedInput."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.entitlements.model import (
    GRANTABLE_OPERATIONS,
    NEEDS_VIEW,
    CompanyScope,
    DocumentScope,
    Operation,
    Rights,
    Theme,
)
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Siren
from securebox_server.admin.forms import profile_of, rights_from_json, rights_json, rights_of

SIRENS = ["732829320", "552100554", "542065479"]
BASE = {
    "civility": "mr",
    "last_name": "Durand",
    "first_name": "Paul",
    "mobile": "06 12 34 56 78",
    "phone": "",
    "email": "paul@company.example",
    "function": "Accountant",
}


def test_a_profile_is_normalised() -> None:
    profile = profile_of(**BASE)
    assert profile.mobile == "0612345678"
    assert profile.phone is None


@pytest.mark.parametrize(
    "change",
    [
        {"mobile": "", "phone": ""},
        {"civility": "dr"},
        {"email": "not-an-address"},
        {"last_name": "   "},
        {"first_name": "<script>"},
        {"phone": "12"},
    ],
)
def test_a_bad_profile_is_refused(change: dict[str, str]) -> None:
    with pytest.raises(MalformedInput):
        profile_of(**{**BASE, **change})


rights_strategy = st.builds(
    Rights,
    st.one_of(
        st.just(CompanyScope.portfolio()),
        st.frozensets(st.sampled_from(SIRENS).map(Siren)).map(lambda c: CompanyScope(chosen=c)),
    ),
    st.one_of(
        st.just(DocumentScope.all()),
        st.builds(
            DocumentScope,
            themes=st.frozensets(st.sampled_from(["payroll", "tax", "statements"]).map(Theme)),
            documents=st.frozensets(
                st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}", fullmatch=True)
            ),
        ),
    ),
    st.frozensets(st.sampled_from(sorted(GRANTABLE_OPERATIONS))).map(
        # download and share are granted with view
        lambda ops: ops | {Operation.VIEW} if ops & NEEDS_VIEW else ops
    ),
)


@given(rights_strategy)
def test_rights_round_trip_through_a_draft(rights: Rights) -> None:
    assert rights_from_json(rights_json(rights)) == rights


@pytest.mark.parametrize(
    "change",
    [
        {"companies": "some"},
        {"documents": "most"},
        {"operations": ["list_users"]},
        {"operations": ["fly"]},
        {"operations": ["download"]},
        {"operations": ["share", "download", "manage_users"]},
        {"chosen": ["123"], "companies": "chosen"},
        {"themes": ["Bad Theme"], "documents": "partial"},
    ],
)
def test_bad_rights_are_refused(change: dict[str, object]) -> None:
    values: dict[str, object] = {
        "companies": "all",
        "chosen": [],
        "documents": "total",
        "themes": [],
        "document_ids": [],
        "operations": ["view"],
    }
    with pytest.raises(MalformedInput):
        rights_of(**{**values, **change})  # type: ignore[arg-type]
