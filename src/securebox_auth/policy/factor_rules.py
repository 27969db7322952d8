"""The factor sections of a policy file, ``[totp]``, ``[oob]`` and ``[cap]``: each builds the
rules object the factor's verifier and service take (:class:`~securebox_auth.factors.totp.
TotpRules`, :class:`~securebox_auth.factors.oob.OobRules`, :class:`~securebox_auth.factors.
cap.CapRules`), a key left out taking the service's default. The loader checks unknown keys
and turns the rules' own range errors into :class:`~securebox_auth.errors.PolicyError`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from securebox_auth.factors.cap_rules import CapRules
from securebox_auth.factors.oob_issue import OobRules
from securebox_auth.factors.totp import TotpRules
from securebox_auth.policy.sections import DelegationRules

__all__ = ["Table", "cap_rules", "delegation_rules", "oob_rules", "totp_rules"]


class Table(Protocol):
    """The typed getters of one TOML table (the loader's)."""

    def integer(self, name: str, default: int) -> int: ...

    def text(self, name: str, default: str) -> str: ...

    def seconds(self, name: str, default: timedelta) -> timedelta: ...

    def boolean(self, name: str, default: bool) -> bool: ...


def totp_rules(table: Table) -> TotpRules:
    base = TotpRules()
    return TotpRules(
        digits=table.integer("digits", base.digits),
        period=table.integer("period", base.period),
        algorithm=table.text("algorithm", base.algorithm),
        window=table.integer("window", base.window),
        secret_bytes=table.integer("secret_bytes", base.secret_bytes),
    )


def oob_rules(table: Table) -> OobRules:
    base = OobRules()
    return OobRules(
        digits=table.integer("digits", base.digits),
        lifetime=table.seconds("lifetime", base.lifetime),
        max_wrong=table.integer("max_wrong", base.max_wrong),
        per_user=table.integer("per_user", base.per_user),
        per_destination=table.integer("per_destination", base.per_destination),
        throttle_window=table.seconds("throttle_window", base.throttle_window),
        min_interval=table.seconds("min_interval", base.min_interval),
        issuer=table.text("issuer", base.issuer),
    )


def cap_rules(table: Table) -> CapRules:
    return CapRules(window=table.integer("window", CapRules().window))


def delegation_rules(table: Table) -> DelegationRules:
    """``[delegation]`` (not a factor, but read the same way): false by default."""
    key = "access_managers_manage_rights_and_codes"
    return DelegationRules(access_managers_manage_rights_and_codes=table.boolean(key, False))
