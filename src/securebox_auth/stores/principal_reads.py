"""What a verification reads of one principal, read together where the store can: the SQL
store sends the single-row reads in one round trip on PostgreSQL (ADR 0043); any other
store is read getter by getter, so a third-party store needs nothing new."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from securebox_auth.entitlements.accounts import Account
from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.stores.protocols import AuthStore, Versioned

__all__ = ["PrincipalReads", "read_principal"]


@dataclass(frozen=True, slots=True)
class PrincipalReads:
    """What a verification reads of one principal before it decides: its lockout state
    (when asked for, else ``None``), its account, its confidential code (when asked for) and
    some factor states by ``(kind, item)`` (``None``: absent)."""

    lockout: Versioned[LockoutState] | None
    account: Versioned[Account] | None
    code: Versioned[CodeCredential] | None
    factors: Mapping[tuple[str, str], Versioned[Mapping[str, object]] | None]

    def lockout_state(self) -> Versioned[LockoutState]:
        """The lockout state read (asked for with ``lockout=True``, the default)."""
        if self.lockout is None:
            raise ConfigurationError("the lockout state was not read")
        return self.lockout


def read_principal(
    store: AuthStore,
    principal: Principal,
    *,
    lockout: bool = True,
    code: bool = False,
    factors: Sequence[tuple[str, str]] = (),
) -> PrincipalReads:
    """The :class:`PrincipalReads` of ``principal``. A store may offer the same as a method
    ``read_principal(principal, *, lockout, code, factors)`` that reads them together (the SQL store
    sends them in one round trip on PostgreSQL); any other store is read one getter at a
    time. Each value is versioned: the commit that follows checks them as usual."""
    together = getattr(store, "read_principal", None)
    if together is not None:
        found: PrincipalReads = together(principal, lockout=lockout, code=code, factors=factors)
        return found
    return PrincipalReads(
        store.get_lockout(principal) if lockout else None,
        store.get_account(principal),
        store.get_code(principal) if code else None,
        {key: store.get_factor_state(principal, *key) for key in factors},
    )
