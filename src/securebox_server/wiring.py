"""Build the library's entry point from :class:`~securebox_server.settings.Settings`: the
master key, the SQL store (the library's and the server's tables migrated), the gateways,
and ``Securebox.from_policy``; and the rate limits (:func:`build_limits`)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from securebox_auth.clock import Clock
from securebox_auth.crypto.hashing import PROFILE_2026, Argon2Parameters
from securebox_auth.errors import ConfigurationError
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_auth.shell.sql import open_sql_store
from securebox_server.db import migrate as server_migrate
from securebox_server.rate_limits import Limiter, LoginLimits, SqlRateLimitStorage
from securebox_server.rate_limits.storage import open_rate_limit_engine
from securebox_server.settings import Settings
from securebox_server.throttle import NoLimits, RateLimits

__all__ = [
    "build_limits",
    "build_securebox",
    "load_master_key",
    "migrate_database",
    "write_master_key",
]


def migrate_database(url: str) -> None:
    """Both histories up to their newest revision: the library's store, then the server's
    tables (``securebox serve`` runs it once before the workers start)."""
    from securebox_auth.stores.sql import migrate as store_migrate  # noqa: PLC0415
    from securebox_auth.stores.sql.engine import create_engine  # noqa: PLC0415

    engine = create_engine(url)
    try:
        store_migrate.upgrade(engine)
        server_migrate.upgrade(engine)
    finally:
        engine.dispose()


def write_master_key(path: Path) -> None:
    """A fresh master key file (``m1:<64 hex>``), readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(f"m1:{secrets.token_hex(32)}\n")


def load_master_key(settings: Settings) -> DerivedKeys:
    """The deployment's keys; in demo mode a missing key file is generated."""
    path = settings.master_key_file
    if path is None:
        if not settings.demo:
            raise ConfigurationError("master_key_file: required outside demo mode")
        return DerivedKeys.generate()
    if not path.exists() and settings.demo:
        write_master_key(path)
    try:
        spec = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise ConfigurationError(f"master_key_file: cannot read ({exc.strerror})") from None
    return DerivedKeys.from_hex(spec)


def build_securebox(
    settings: Settings,
    *,
    clock: Clock | None = None,
    argon2: Argon2Parameters = PROFILE_2026,
    keys: DerivedKeys | None = None,
) -> Securebox:
    """The entry point on the settings' database (both histories migrated at start-up:
    the library's store and the server's own tables)."""
    keys = keys or load_master_key(settings)
    store = open_sql_store(settings.database_url, audit_key=keys.audit_key(), migrate=True)
    server_migrate.upgrade(store.engine)
    return Securebox.from_policy(
        Path(settings.policy), store=store, keys=keys, clock=clock, argon2=argon2
    )


def build_limits(settings: Settings, clock: Clock) -> tuple[RateLimits, LoginLimits | None]:
    """The named limits over the settings' database (ADR 0026) and the login's budgets on
    them, or no limit when ``rate_limits_enabled`` is false (tests, demo mode only). The
    tables must exist (:func:`build_securebox` migrates them)."""
    if not settings.rate_limits_enabled:
        return NoLimits(), None
    storage = SqlRateLimitStorage(open_rate_limit_engine(settings.database_url), clock=clock)
    limiter = Limiter(storage, settings.limits())
    return limiter, LoginLimits(limiter)
