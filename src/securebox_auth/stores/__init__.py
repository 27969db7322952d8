"""Stores: the Protocols the core's shell needs, and their implementations.

:mod:`securebox_auth.stores.protocols` states what a store must do; :mod:`.memory` is the
in-memory implementation used by tests, examples and the demo. :mod:`.sql` holds the SQLAlchemy
implementations (SQLite and PostgreSQL); it needs the ``sql`` extra and is not imported here.
"""

from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    DropFactorState,
    Expect,
    OpenSession,
    PutAccount,
    PutCode,
    PutFactorState,
    PutLockout,
    PutSession,
    PutSubscription,
    RotateSession,
    Versioned,
)

__all__ = [
    "AuthStore",
    "Change",
    "DropFactorState",
    "Expect",
    "MemoryStore",
    "OpenSession",
    "PutAccount",
    "PutCode",
    "PutFactorState",
    "PutLockout",
    "PutSession",
    "PutSubscription",
    "RotateSession",
    "Versioned",
]
