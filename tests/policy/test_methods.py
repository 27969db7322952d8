"""The method catalogue (securebox_auth.factors.methods): categories, amr, linking."""

from __future__ import annotations

import pytest

from securebox_auth.errors import MalformedInput
from securebox_auth.factors.methods import (
    CONFIDENTIAL_CODE,
    METHODS,
    RECOVERY_CODE,
    FactorCategory,
    categories_from_mask,
    categories_of,
    category_mask,
    get_method,
    is_strong,
)

# RFC 8176 section 2 (IANA "Authentication Method Reference Values").
_RFC8176 = (
    "face fpt geo hwk iris kba mca mfa otp pin pop pwd rba retina sc sms swk tel user vbm wia"
)
RFC8176 = frozenset(_RFC8176.split())
K, P, INH = FactorCategory.KNOWLEDGE, FactorCategory.POSSESSION, FactorCategory.INHERENCE

CATALOGUE = [
    # name, categories, strong alone, dynamic linking, phishing resistant
    ("confidential_code", {K}, False, False, False),
    ("cap_identify", {P, K}, True, False, False),
    ("cap_respond", {P, K}, True, False, False),
    ("cap_sign", {P, K}, True, True, False),
    ("certificate", {P, K}, True, True, True),
    ("smartcard_pin", {P, K}, True, True, True),
    ("totp", {P}, False, False, False),
    ("passkey_uv", {P, INH}, True, True, True),
    ("passkey_no_uv", {P}, False, True, True),
    ("sms_otp", {P}, False, True, False),
    ("email_otp", {P}, False, False, False),
    ("recovery_code", {K}, False, False, False),
]


@pytest.mark.parametrize(("name", "categories", "strong", "linking", "phr"), CATALOGUE)
def test_catalogue(
    name: str, categories: set[FactorCategory], strong: bool, linking: bool, phr: bool
) -> None:
    method = get_method(name)
    assert method.categories == categories
    assert method.strong is strong
    assert method.dynamic_linking is linking
    assert method.phishing_resistant is phr
    assert method.amr
    assert set(method.amr) <= RFC8176


def test_catalogue_is_complete() -> None:
    assert set(METHODS) == {row[0] for row in CATALOGUE}


def test_confidential_code_keeps_its_shape() -> None:
    # shell/code.py imports CONFIDENTIAL_CODE and relies on these fields
    assert CONFIDENTIAL_CODE.name == "confidential_code"
    assert CONFIDENTIAL_CODE.amr == ("pwd",)
    assert CONFIDENTIAL_CODE.categories == frozenset({K})


def test_recovery_codes_never_count() -> None:
    assert RECOVERY_CODE.counted_categories == frozenset()
    assert not is_strong([RECOVERY_CODE, get_method("totp")])
    assert is_strong([CONFIDENTIAL_CODE, get_method("totp")])


def test_masks_match_categories() -> None:
    for name, method in METHODS.items():
        assert categories_from_mask(category_mask([name])) == method.counted_categories
    assert categories_of([]) == frozenset()
    assert category_mask(["confidential_code", "totp"]) == 3


@pytest.mark.parametrize("bad", ["password", "", "CAP_SIGN"])
def test_unknown_method(bad: str) -> None:
    with pytest.raises(MalformedInput):
        get_method(bad)
    with pytest.raises(MalformedInput):
        category_mask([bad])
