"""Type-checked use of the public API (checked by ``mypy --strict``, not run by pytest).

If a public signature changes incompatibly, mypy fails here.
"""

from __future__ import annotations

from typing import assert_type

import securebox_auth as sb


def use_public_api() -> None:
    store = sb.MemoryStore()
    hasher = sb.Argon2CodeHasher(sb.StaticKeyring.generate(), sb.PROFILE_TESTING)
    service = sb.ConfidentialCodeService(store, hasher, clock=sb.FixedClock())
    principal = sb.Principal.parse("123456789", "01")
    one_time = service.create_account(sb.Operator("ops"), principal, sb.Role.USER)
    assert_type(one_time, sb.OneTimeCode)
    result = service.login("123456789", "01", one_time.reveal())
    assert_type(result, sb.LoginResult)
    assert_type(result.outcome, sb.CodeOutcome)
    assert_type(result.authenticated, bool)
    change = service.change_code("123456789", "01", one_time.reveal(), "47120938")
    assert_type(change.changed, bool)
    assert_type(sb.verify_chain(store.audit_key, store.audit_log()), int)
    assert_type(sb.Siren.parse("732829320"), sb.Siren)
    assert_type(sb.strength_problems("47120938", sb.CodeRules()), tuple[str, ...])
