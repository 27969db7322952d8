"""The SQL store's reads of one principal together (ADR 0043): single-row statements sent
in one pipeline on PostgreSQL (one round trip, each its own snapshot as when read one by
one), one after the other on SQLite; and the decoding of those rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from securebox_auth.entitlements.accounts import Account
from securebox_auth.factors.code import CodeCredential
from securebox_auth.identity import Principal
from securebox_auth.lockout.rules import LockoutState
from securebox_auth.stores.principal_reads import PrincipalReads
from securebox_auth.stores.protocols import Versioned
from securebox_auth.stores.sql import codec
from securebox_auth.stores.sql.database import Database
from securebox_auth.stores.sql.writes import (
    ACCOUNT_KIND,
    CODE_KIND,
    FACTOR_KIND,
    LOCKOUT_KIND,
    Kind,
    principal_key,
)

__all__ = ["account_of", "code_of", "factor_state_of", "lockout_of", "read_together"]


def read_together(
    db: Database,
    reads: Mapping[int, str],
    principal: Principal,
    *,
    lockout: bool = True,
    code: bool = False,
    factors: Sequence[tuple[str, str]] = (),
) -> PrincipalReads:
    """:func:`~securebox_auth.stores.principal_reads.read_principal`: the lockout state, the
    account, the code and the factor states in one round trip on PostgreSQL (a pipeline
    of single-row reads, each its own snapshot, as when read one by one)."""
    key = principal_key(principal)
    kinds = [*([LOCKOUT_KIND] if lockout else []), ACCOUNT_KIND, *([CODE_KIND] if code else [])]
    statements: list[tuple[str, Sequence[str]]] = [(reads[kind.order], key) for kind in kinds]
    statements += [(reads[FACTOR_KIND.order], (*key, *item)) for item in factors]
    results = db.fetch_many(statements)
    names = {kind.order: [c.name for c in kind.table.columns] for kind in (*kinds, FACTOR_KIND)}

    def row(kind: Kind, rows: list[Sequence[Any]]) -> Mapping[str, Any] | None:
        return dict(zip(names[kind.order], rows[0], strict=True)) if rows else None

    states = {
        item: factor_state_of(row(FACTOR_KIND, rows))
        for item, rows in zip(factors, results[len(kinds) :], strict=True)
    }
    found = dict(zip((kind.order for kind in kinds), results, strict=False))
    return PrincipalReads(
        lockout_of(row(LOCKOUT_KIND, found[LOCKOUT_KIND.order])) if lockout else None,
        account_of(row(ACCOUNT_KIND, found[ACCOUNT_KIND.order])),
        code_of(row(CODE_KIND, found[CODE_KIND.order])) if code else None,
        states,
    )


def account_of(row: Mapping[str, Any] | None) -> Versioned[Account] | None:
    return None if row is None else Versioned(codec.account_from_row(row), row["version"])


def code_of(row: Mapping[str, Any] | None) -> Versioned[CodeCredential] | None:
    return None if row is None else Versioned(codec.code_from_row(row), row["version"])


def lockout_of(row: Mapping[str, Any] | None) -> Versioned[LockoutState]:
    if row is None:
        return Versioned(LockoutState(), 0)
    return Versioned(codec.lockout_from_row(row), row["version"])


def factor_state_of(row: Mapping[str, Any] | None) -> Versioned[Mapping[str, object]] | None:
    if row is None:
        return None
    state = codec.factor_state_from_row(row)
    return None if state is None else Versioned(state, row["version"])
