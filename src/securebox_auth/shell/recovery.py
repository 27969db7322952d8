"""Recovery codes on a store: a new set (shown once, only hashes stored) and one attempt
with a code (used up under compare-and-swap)."""

from __future__ import annotations

from datetime import datetime
from typing import Unpack

from securebox_auth.crypto.hashing import CodeHasher, OnceHasher
from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.factors.recovery import (
    RecoveryCodeRules,
    RevealedCodes,
    generate_recovery_codes,
    verify_recovery_code,
)
from securebox_auth.identity import Principal
from securebox_auth.shell.base import DEFAULT_ITEM, FactorResult, FactorShell, ShellOptions, Step
from securebox_auth.shell.retry import Attempt
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import AuthStore

__all__ = ["RecoveryService"]


class RecoveryService(FactorShell):
    """Recovery codes: ``hasher`` hashes them, ``keys`` keys their lookup hints."""

    def __init__(
        self,
        store: AuthStore,
        hasher: CodeHasher,
        keys: KeyProvider,
        *,
        rules: RecoveryCodeRules | None = None,
        **options: Unpack[ShellOptions],
    ) -> None:
        super().__init__(store, **options)
        self.hasher = hasher
        self.keys = keys
        self.rules = rules or RecoveryCodeRules()

    def generate(self, principal: Principal, *, actor: str | None = None) -> RevealedCodes:
        """A fresh set replacing the previous one (which stops working in the same commit):
        the codes are returned once (:meth:`~securebox_auth.factors.recovery.RevealedCodes.
        reveal`), only their hashes are stored; audited ``recovery.generate``."""
        revealed, stored, event = generate_recovery_codes(
            principal,
            now=self.clock.now(),
            hasher=self.hasher,
            keys=self.keys,
            rules=self.rules,
            actor=actor,
        )
        self._put(principal, fc.RECOVERY, DEFAULT_ITEM, fc.recovery_to_dict(stored), (event,))
        return revealed

    def verify(self, principal: Principal, code: object, *, path: str = "recovery") -> FactorResult:
        """One recovery code; a matching code is used up under compare-and-swap."""
        return self._run(self.decide(principal, code, path=path))

    def decide(
        self, principal: Principal, code: object, *, path: str = "recovery"
    ) -> Attempt[FactorResult]:
        """:meth:`verify` without its commit (a flow commits it with its own, ADR 0023)."""
        hasher = OnceHasher(self.hasher)
        key = (fc.RECOVERY, DEFAULT_ITEM)

        def attempt(now: datetime) -> Step[FactorResult]:
            read = self._read(principal, (key,))
            verdict = verify_recovery_code(
                read.decoded(*key, fc.recovery_from_dict), read.lockout.value, principal, code,
                now=now, hasher=hasher, keys=self.keys, lockout_rules=self.lockout_rules,
                rules=self.rules, path=path,
            )  # fmt: skip
            document = None
            if verdict.ok and verdict.recovery is not None:
                document = fc.recovery_to_dict(verdict.recovery)
            changes = read.changes(verdict.lockout, [(*key, document)])
            result = self._result(
                verdict.outcome, principal, now, verdict.reason, verdict.lockout,
                verdict.alert, verdict.method, running_low=verdict.running_low,
            )  # fmt: skip
            return changes, verdict.events, result

        return attempt
