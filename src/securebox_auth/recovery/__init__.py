"""Account recovery, pure: the recovery flow (:mod:`.flow`), the reset of a forgotten code
(:mod:`.reset`) and secret-question answers (:mod:`.answers`). The shell is
:mod:`securebox_auth.shell.account_recovery`; the reference server's pages and API are
``securebox_server.recovery``. See ``docs/recovery.md`` and ADR 0040.

Recovery never authenticates: passing a recovery flow grants one thing, named by its kind
(:data:`~.flow.GRANTS`): showing or sending an identifier, or replacing the confidential
code. It never opens a session, never records a strong authentication, and the next login
follows the policy like any other.
"""

from securebox_auth.recovery.flow import (
    GRANTS,
    RecoveryFlow,
    RecoveryKind,
    RecoveryState,
    address_given,
    challenge_answered,
    finish,
    start_recovery,
)

__all__ = [
    "GRANTS",
    "RecoveryFlow",
    "RecoveryKind",
    "RecoveryState",
    "address_given",
    "challenge_answered",
    "finish",
    "start_recovery",
]
