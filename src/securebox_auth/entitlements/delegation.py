"""What an access manager may do beyond giving and withdrawing access: a policy switch.

The bank's Digital Box guide has access managers give and withdraw the employees' access to
the box (add and remove plain users) and nothing more; the e-Box Enterprise integration
guide also lets them change those employees' rights and confidential codes (regenerate a
code, unblock). :class:`~securebox_auth.policy.sections.DelegationRules` chooses
(``[delegation] access_managers_manage_rights_and_codes``, false by default: the narrower
reading). The rule is pure; the entitlement service applies it to every change of rights
and credentials, on top of :func:`~securebox_auth.entitlements.check.check`.
"""

from __future__ import annotations

import enum

from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.errors import NotPermitted
from securebox_auth.policy.sections import DelegationRules

__all__ = ["Delegated", "authorise_delegated", "delegation_allows"]


class Delegated(enum.StrEnum):
    """The changes the switch governs."""

    RIGHTS = "rights"
    CODES = "codes"


def delegation_allows(actor: Account, what: Delegated, rules: DelegationRules) -> bool:
    """May ``actor``'s role make a change of kind ``what`` under ``rules``? (Only access
    managers are limited here; the entitlement check still decides on the target.)"""
    del what  # both kinds follow the one switch
    return actor.role is not Role.ACCESS_MANAGER or rules.access_managers_manage_rights_and_codes


def authorise_delegated(actor: Account, what: Delegated, rules: DelegationRules) -> None:
    """Raise :class:`NotPermitted` unless :func:`delegation_allows`."""
    if not delegation_allows(actor, what, rules):
        raise NotPermitted(f"an access manager does not manage {what.value} under this policy")
