"""Real parts with counters, shared by the tests.

Nothing here is a mock: :class:`CountingPasswordHasher` is argon2-cffi's own hasher that also
counts its verifications, and :class:`CountingStore` is the in-memory store that also counts
its successful commits.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import argon2

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING, Argon2CodeHasher, Argon2Parameters
from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.factors.oob import Channel, keyed_destination_key
from securebox_auth.identity import Principal
from securebox_auth.shell.code import ConfidentialCodeService
from securebox_auth.shell.oob import ENROL_PURPOSE
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import Change

#: A Monday morning, so that no test depends on the real date.
NOW: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

CLIENT: Final = "123456789"
OTHER_CLIENT: Final = "987654321"
BACK_OFFICE: Final = Operator("back-office")

#: Codes that pass the default strength rules for every principal used in the tests.
STRONG_CODES: Final = (
    "47120938",
    "58302917",
    "61937402",
    "83016452",
    "29574160",
    "70418365",
    "39517284",
    "92630741",
)
#: A well-formed code that is never anybody's code in these tests.
WRONG_CODE: Final = "64081729"


class CountingPasswordHasher(argon2.PasswordHasher):
    """argon2-cffi's hasher, counting every verification (thread-safe)."""

    def __init__(self, parameters: Argon2Parameters = PROFILE_TESTING) -> None:
        super().__init__(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost_kib,
            parallelism=parameters.parallelism,
            hash_len=parameters.hash_len,
            salt_len=parameters.salt_len,
            type=argon2.Type.ID,
        )
        self._count_lock = threading.Lock()
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._count_lock:
            self.verifications += 1
        return super().verify(hash, password)


def counting_hasher(
    pepper: KeyProvider, parameters: Argon2Parameters = PROFILE_TESTING
) -> tuple[Argon2CodeHasher, CountingPasswordHasher]:
    counter = CountingPasswordHasher(parameters)
    return Argon2CodeHasher(pepper, parameters, password_hasher=counter), counter


class CountingStore(MemoryStore):
    """The in-memory store, counting successful commits and lost races."""

    def __init__(self, *, audit_key: bytes | None = None) -> None:
        super().__init__(audit_key=audit_key)
        self._count_lock = threading.Lock()
        self.commits = 0
        self.conflicts = 0

    def commit(self, changes: Sequence[Change], events: Sequence[AuditEvent]) -> None:
        try:
            super().commit(changes, events)
        except Exception:
            with self._count_lock:
                self.conflicts += 1
            raise
        with self._count_lock:
            self.commits += 1

    def audit_count(self) -> int:
        return len(list(self.audit_log()))


def enrol(
    service: ConfidentialCodeService,
    principal: Principal,
    code: str,
    role: Role = Role.USER,
) -> None:
    """Create an account through the back office and complete the first-login change."""
    one_time = (
        service.create_subscription(BACK_OFFICE, principal)
        if role is Role.PRINCIPAL_USER
        else service.create_account(BACK_OFFICE, principal, role)
    )
    changed = service.change_code(
        principal.client_id.value, principal.user_number.value, one_time.reveal(), code
    )
    assert changed.changed


def verify_destination(
    box: Securebox,
    principal: Principal,
    channel: Channel,
    destination: str,
    clock: FixedClock | None = None,
) -> None:
    """Enrol ``destination`` the library's way (a code sent there with the deployment's
    gateway, then confirmed), so that one-time codes may be sent to it; then move
    ``clock`` past the send throttle."""
    oob = box.factors.oob
    issued = oob.issue(
        principal,
        channel=channel,
        destination=destination,
        purpose=ENROL_PURPOSE,
        reference=keyed_destination_key(oob.keys, channel, destination),
        gateway=box.gateways[channel.value],
        code="246810",
    )
    assert issued.challenge is not None, issued.reason
    done = oob.confirm_destination(
        principal, issued.challenge.id, "246810", channel=channel, destination=destination
    )
    assert done.ok
    if clock is not None:
        clock.advance(timedelta(hours=2))
