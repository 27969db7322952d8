"""The access managers' policy switch (``[delegation]``): the pure rule, the policy file,
and the entitlement service under both readings (the bank's Digital Box guide: access only;
the e-Box Enterprise integration guide: rights and codes too)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.entitlements.accounts import Account, AccountStatus, Operator, Role
from securebox_auth.entitlements.delegation import Delegated, authorise_delegated, delegation_allows
from securebox_auth.entitlements.model import CompanyScope, DocumentScope, Operation, Rights
from securebox_auth.entitlements.proofs import KeyedCompanyProofs
from securebox_auth.entitlements.service import EntitlementService
from securebox_auth.errors import NotPermitted, PolicyError
from securebox_auth.identity import Principal
from securebox_auth.policy import PSD2_DEFAULT
from securebox_auth.policy.loader import from_toml
from securebox_auth.policy.sections import DelegationRules
from securebox_auth.policy.session import open_session
from securebox_auth.policy.writer import to_toml
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import OpenSession
from tests.entitlements.world import NOW

CLIENT = "123456789"
BOSS, MANAGER, CLERK = (Principal.parse(CLIENT, n) for n in ("01", "02", "03"))
NARROW, WIDE = DelegationRules(), DelegationRules(access_managers_manage_rights_and_codes=True)


@pytest.mark.parametrize("what", list(Delegated))
def test_only_access_managers_are_limited_and_only_when_the_switch_is_off(what: Delegated) -> None:
    for role in Role:
        actor = Account(MANAGER, role, NOW)
        expected = role is not Role.ACCESS_MANAGER
        assert delegation_allows(actor, what, NARROW) is expected
        assert delegation_allows(actor, what, WIDE)
    with pytest.raises(NotPermitted):
        authorise_delegated(Account(MANAGER, Role.ACCESS_MANAGER, NOW), what, NARROW)


def test_the_switch_is_off_by_default_and_round_trips_through_toml() -> None:
    assert not PSD2_DEFAULT.delegation.access_managers_manage_rights_and_codes
    wide = replace(PSD2_DEFAULT, delegation=WIDE)
    assert from_toml(to_toml(wide)).delegation == WIDE
    assert from_toml(to_toml(PSD2_DEFAULT)).delegation == NARROW
    key = "access_managers_manage_rights_and_codes"
    assert key in to_toml(PSD2_DEFAULT)
    with pytest.raises(PolicyError, match="unknown key"):
        from_toml(to_toml(PSD2_DEFAULT).replace(key, "access_managers_manage"))
    with pytest.raises(PolicyError):
        DelegationRules(access_managers_manage_rights_and_codes="yes")  # type: ignore[arg-type]


def _service(rules: DelegationRules) -> tuple[EntitlementService, str]:
    """A subscription with an access manager (every grantable right) and a plain user; the
    access manager's session proved two factors now."""
    store = MemoryStore()
    hasher = Argon2CodeHasher(StaticKeyring.generate(), PROFILE_TESTING)
    service = EntitlementService(
        store,
        hasher,
        company_proofs=KeyedCompanyProofs(StaticKeyring.generate()),
        clock=FixedClock(NOW),
        policy=replace(PSD2_DEFAULT, delegation=rules),
    )
    service.open_subscription(Operator("back-office"), BOSS)

    def session(who: Principal) -> str:
        opened = OpenSession(open_session(who, "web", ("cap_identify",), NOW))
        store.commit([opened], [])
        return opened.session_id

    boss = session(BOSS)
    everything = Rights(
        CompanyScope.portfolio(),
        DocumentScope.all(),
        frozenset({Operation.VIEW, Operation.MANAGE_USERS, Operation.MANAGE_RIGHTS}),
    )
    service.add_user(boss, MANAGER, Role.ACCESS_MANAGER, everything)
    service.add_user(boss, CLERK, Role.USER, Rights(operations=frozenset({Operation.VIEW})))
    return service, session(MANAGER)


def test_narrow_reading_access_only() -> None:
    service, manager = _service(NARROW)
    assert not service.delegation_allows(MANAGER, Delegated.CODES)
    with pytest.raises(NotPermitted):
        service.regenerate_code(manager, CLERK)
    with pytest.raises(NotPermitted):
        service.unblock(manager, CLERK)
    with pytest.raises(NotPermitted):
        service.set_rights(manager, CLERK, Rights())
    new = Principal.parse(CLIENT, "04")
    service.add_user(manager, new, Role.USER, Rights(operations=frozenset({Operation.VIEW})))
    service.remove_user(manager, new)  # giving and withdrawing access stays allowed
    found = service.store.get_account(new)
    assert found is not None
    assert found.value.status is AccountStatus.DISABLED


def test_wide_reading_rights_and_codes_too() -> None:
    service, manager = _service(WIDE)
    assert service.delegation_allows(MANAGER, Delegated.RIGHTS)
    assert service.regenerate_code(manager, CLERK).reveal()
    service.unblock(manager, CLERK)
    service.set_rights(manager, CLERK, Rights())
    with pytest.raises(NotPermitted):  # still plain users only (the entitlement check)
        service.regenerate_code(manager, BOSS)
