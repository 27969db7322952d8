"""The resource server's settings, from ``PAYMENTS_*`` environment variables (every uvicorn
worker reads the same ones)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

from securebox_auth.errors import ConfigurationError

__all__ = ["JWKS_PATH", "Settings", "read_audit_key", "write_audit_key"]

#: Where the reference server publishes its keys, under its issuer (its public origin).
JWKS_PATH: Final = "/api/v1/.well-known/jwks.json"


@dataclass(frozen=True, slots=True)
class Settings:
    """``issuer``: the reference server's public origin, exactly as it signs ``iss``;
    ``audience``: this service's name, as the portal asks assertions for it;
    ``jwks_url``: where to fetch the keys (default ``issuer`` + :data:`JWKS_PATH`);
    ``database_url``: where consumed assertion ids are kept (SQLite or PostgreSQL, the
    library's schema: ``python3 -m payments_rs migrate``); ``audit_key_file``: 32 random
    bytes in hexadecimal that seal the audit chain of consumptions;
    ``statements_max_age``: how old a login may be to read statements."""

    issuer: str
    database_url: str
    audit_key_file: Path
    audience: str = "payments"
    jwks_url: str = ""
    jwks_ttl: timedelta = timedelta(minutes=5)
    #: At most one refetch of the JWKS for an unknown ``kid`` in this interval.
    jwks_refetch_cooldown: timedelta = timedelta(seconds=30)
    statements_max_age: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if not self.issuer.startswith(("https://", "http://")):
            raise ConfigurationError("PAYMENTS_ISSUER: the reference server's origin")
        if not self.jwks_url:
            object.__setattr__(self, "jwks_url", self.issuer.rstrip("/") + JWKS_PATH)
        if not 0 < len(self.audience) <= 64:
            raise ConfigurationError("PAYMENTS_AUDIENCE: 1 to 64 characters")
        if self.statements_max_age <= timedelta(0):
            raise ConfigurationError("PAYMENTS_STATEMENTS_MAX_AGE: a positive number of seconds")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        try:
            issuer = env["PAYMENTS_ISSUER"]
            database_url = env["PAYMENTS_DATABASE_URL"]
            key_file = Path(env["PAYMENTS_AUDIT_KEY_FILE"])
        except KeyError as missing:
            raise ConfigurationError(f"{missing.args[0]} is not set") from None
        try:
            max_age = int(env.get("PAYMENTS_STATEMENTS_MAX_AGE", "3600"))
        except ValueError:
            raise ConfigurationError("PAYMENTS_STATEMENTS_MAX_AGE: seconds") from None
        return cls(
            issuer=issuer,
            database_url=database_url,
            audit_key_file=key_file,
            audience=env.get("PAYMENTS_AUDIENCE", "payments"),
            jwks_url=env.get("PAYMENTS_JWKS_URL", ""),
            statements_max_age=timedelta(seconds=max_age),
        )


def write_audit_key(path: Path) -> None:
    """A new random audit key (readable by the owner only)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(os.urandom(32).hex() + "\n")


def read_audit_key(path: Path) -> bytes:
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        raise ConfigurationError("PAYMENTS_AUDIT_KEY_FILE: 32 bytes in hexadecimal") from None
    if len(key) < 32:
        raise ConfigurationError("PAYMENTS_AUDIT_KEY_FILE: 32 bytes in hexadecimal")
    return key
