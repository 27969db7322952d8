"""entitlements/accounts.py: accounts, roles, status and back-office operators."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace

import pytest

from securebox_auth.entitlements.accounts import Account, AccountStatus, Operator, Role
from securebox_auth.factors.methods import CONFIDENTIAL_CODE, FactorCategory
from securebox_auth.identity import Principal
from tests.support import NOW

ALICE = Principal.parse("123456789", "01")


def test_account_is_active_by_default() -> None:
    account = Account(ALICE, Role.USER, NOW)
    assert account.status is AccountStatus.ACTIVE
    assert account.active


def test_disabled_account_is_not_active() -> None:
    account = replace(Account(ALICE, Role.USER, NOW), status=AccountStatus.DISABLED)
    assert not account.active


def test_accounts_are_immutable() -> None:
    account = Account(ALICE, Role.ADMINISTRATOR, NOW)
    with pytest.raises(FrozenInstanceError):
        account.role = Role.PRINCIPAL_USER  # type: ignore[misc]


def test_accounts_compare_by_value() -> None:
    assert Account(ALICE, Role.USER, NOW) == Account(
        Principal.parse("123 456 789", "01"), Role.USER, NOW
    )
    assert Account(ALICE, Role.USER, NOW) != Account(ALICE, Role.ADMINISTRATOR, NOW)


def test_operator_audit_key_cannot_collide_with_a_principal() -> None:
    operator = Operator("back-office")
    assert operator.key == "operator:back-office"
    # a principal key is CLIENT:USER with upper-case letters and digits only
    assert not operator.key.split(":")[0].isupper()


@pytest.mark.parametrize(
    ("role", "value"),
    [
        (Role.PRINCIPAL_USER, "principal_user"),
        (Role.ADMINISTRATOR, "administrator"),
        (Role.ACCESS_MANAGER, "access_manager"),
        (Role.USER, "user"),
        (Role.THIRD_PARTY, "third_party"),
    ],
)
def test_role_values_are_stable(role: Role, value: str) -> None:
    # the values are written to audit records and stores: they must not change
    assert role.value == value
    assert Role(value) is role


def test_confidential_code_is_one_knowledge_factor() -> None:
    assert CONFIDENTIAL_CODE.categories == frozenset({FactorCategory.KNOWLEDGE})
    assert CONFIDENTIAL_CODE.amr == ("pwd",)
