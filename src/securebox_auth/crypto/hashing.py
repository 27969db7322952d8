"""Hashing of confidential codes: a keyed pepper, then argon2id.

A numeric code has few possible values (10^8 for 8 digits), so argon2id alone does not stop
an offline search of a stolen database. Each code is first passed through HMAC-SHA256 with a
*pepper* key held by a :class:`~securebox_auth.crypto.keys.KeyProvider` (outside the
database), bound to the principal so a hash copied to another row does not verify, and only
then hashed with argon2id. The stored form names the pepper key, so the pepper can rotate::

    sbx1$<pepper key id>$<argon2id encoded hash>

Parameters and their measurement are in ``docs/adr/0002-argon2id-parameters.md``.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from typing import Final, Protocol

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.errors import ConfigurationError
from securebox_auth.identity import Principal

__all__ = [
    "PROFILE_2026",
    "PROFILE_TESTING",
    "Argon2CodeHasher",
    "Argon2Parameters",
    "CodeHasher",
    "OnceHasher",
]

_PREFIX: Final = "sbx1"
_CONTEXT: Final = b"securebox/code/v1\x00"


@dataclass(frozen=True, slots=True, kw_only=True)
class Argon2Parameters:
    """argon2id parameters, validated once."""

    time_cost: int
    memory_cost_kib: int
    parallelism: int = 1
    hash_len: int = 32
    salt_len: int = 16

    def __post_init__(self) -> None:
        if not 1 <= self.time_cost <= 64:
            raise ConfigurationError("argon2 time_cost must be between 1 and 64")
        if not 1 <= self.parallelism <= 64:
            raise ConfigurationError("argon2 parallelism must be between 1 and 64")
        if not 8 * self.parallelism <= self.memory_cost_kib <= 4 * 1024 * 1024:
            raise ConfigurationError("argon2 memory_cost_kib must be >= 8 x parallelism, <= 4 GiB")
        if not 16 <= self.hash_len <= 64 or not 16 <= self.salt_len <= 64:
            raise ConfigurationError("argon2 hash_len and salt_len must be 16 to 64 bytes")


#: Chosen from a measurement on the reference machine (2 vCPU EPYC): ~44 ms per verify.
#: OWASP's minimum is t=2, m=19 MiB; one more pass costs 13 ms and buys 50 % more work.
PROFILE_2026: Final = Argon2Parameters(time_cost=3, memory_cost_kib=19456, parallelism=1)

#: Real argon2id with the smallest legal cost. **Tests only**: it protects nothing.
PROFILE_TESTING: Final = Argon2Parameters(time_cost=1, memory_cost_kib=8, parallelism=1)


class CodeHasher(Protocol):
    """What the core needs from a code hasher."""

    def hash(self, principal: Principal, code: str) -> str: ...

    def verify(self, stored: str, principal: Principal, code: str) -> bool: ...

    def verify_dummy(self, principal: Principal, code: str) -> bool:
        """Do the same work as :meth:`verify` against a hash nobody knows; always False."""
        ...

    def needs_rehash(self, stored: str) -> bool: ...


class Argon2CodeHasher:
    """Pepper with a key provider's HMAC, then argon2id (argon2-cffi)."""

    def __init__(
        self,
        pepper: KeyProvider,
        parameters: Argon2Parameters = PROFILE_2026,
        *,
        password_hasher: argon2.PasswordHasher | None = None,
    ) -> None:
        self._pepper = pepper
        self.parameters = parameters
        self._ph = password_hasher or argon2.PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost_kib,
            parallelism=parameters.parallelism,
            hash_len=parameters.hash_len,
            salt_len=parameters.salt_len,
            type=argon2.Type.ID,
        )
        # A hash of a random value with the current parameters: verifying against it costs
        # exactly what verifying a real code costs, and never succeeds.
        self._dummy = self._ph.hash(secrets.token_bytes(32))

    @property
    def pepper(self) -> KeyProvider:
        """The pepper's key provider (for
        :func:`securebox_auth.crypto.keys.ensure_distinct_keys`)."""
        return self._pepper

    def _peppered(self, key_id: str, principal: Principal, code: str) -> bytes:
        message = _CONTEXT + principal.key.encode("ascii") + b"\x00" + code.encode("ascii")
        try:
            return self._pepper.mac(key_id, message)
        except KeyError:
            raise ConfigurationError(f"pepper key {key_id!r} is not available") from None

    def hash(self, principal: Principal, code: str) -> str:
        key_id = self._pepper.current_key_id
        encoded = self._ph.hash(self._peppered(key_id, principal, code))
        return f"{_PREFIX}${key_id}${encoded}"

    @staticmethod
    def _split(stored: str) -> tuple[str, str]:
        prefix, _, rest = stored.partition("$")
        key_id, _, encoded = rest.partition("$")
        if prefix != _PREFIX or not key_id or not encoded.startswith("$argon2id$"):
            raise ConfigurationError("a stored code hash is not in the securebox format")
        return key_id, encoded

    def verify(self, stored: str, principal: Principal, code: str) -> bool:
        key_id, encoded = self._split(stored)
        try:
            return self._ph.verify(encoded, self._peppered(key_id, principal, code))
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError):
            # argon2 could not decode or check the stored hash ("Decoding failed" is a plain
            # VerificationError): a damaged record, not a wrong code.
            raise ConfigurationError("a stored code hash is corrupt") from None

    def verify_dummy(self, principal: Principal, code: str) -> bool:
        peppered = self._peppered(self._pepper.current_key_id, principal, code)
        with contextlib.suppress(VerificationError):
            self._ph.verify(self._dummy, peppered)
        return False

    def needs_rehash(self, stored: str) -> bool:
        key_id, encoded = self._split(stored)
        try:
            return key_id != self._pepper.current_key_id or self._ph.check_needs_rehash(encoded)
        except InvalidHashError:
            raise ConfigurationError("a stored code hash is corrupt") from None


class OnceHasher:
    """Remembers the argon2 answers of one service call, so that a retry after a lost
    compare-and-swap race costs no second verification (the answer cannot change unless the
    stored hash did, and then the key differs). Only answers are cached, never codes; make
    one per call and drop it afterwards."""

    def __init__(self, inner: CodeHasher) -> None:
        self._inner = inner
        self._answers: dict[tuple[str, str], bool] = {}
        self._dummy_done = False

    def hash(self, principal: Principal, code: str) -> str:
        return self._inner.hash(principal, code)

    def verify(self, stored: str, principal: Principal, code: str) -> bool:
        key = (stored, code)
        if key not in self._answers:
            self._answers[key] = self._inner.verify(stored, principal, code)
        return self._answers[key]

    def verify_dummy(self, principal: Principal, code: str) -> bool:
        if not self._dummy_done:
            self._inner.verify_dummy(principal, code)
            self._dummy_done = True
        return False

    def needs_rehash(self, stored: str) -> bool:
        return self._inner.needs_rehash(stored)
