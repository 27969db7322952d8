"""Keys of the named limits: an account, a source, a (source, account) pair.

An account key is the *claimed* principal, known or not, so an unknown account is limited
exactly like a real one (ADR 0004): the limiter never looks anything up.
"""

from __future__ import annotations

from securebox_auth.identity import Principal

__all__ = ["GLOBAL_KEY", "account_key", "pair_key"]

#: The key of limits that count every request (``login.global``).
GLOBAL_KEY = "all"


def account_key(principal: Principal) -> str:
    """``client-id/user-number`` of the claimed principal."""
    return f"{principal.client_id.value}/{principal.user_number.value}"


def pair_key(source: str, account: str) -> str:
    """A source and an account together (``login.failure.source_account``)."""
    return f"{source}|{account}"
