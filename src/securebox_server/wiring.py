"""Build the library's entry point from :class:`~securebox_server.settings.Settings`: the
master key, the SQL store (migrated), the gateways, and ``Securebox.from_policy``."""

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
from securebox_server.api.keys import token_keys
from securebox_server.settings import Settings

__all__ = ["build_securebox", "load_master_key", "write_master_key"]


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
    """The entry point on the settings' database (migrations applied at start-up)."""
    keys = keys or load_master_key(settings)
    store = open_sql_store(settings.database_url, audit_key=keys.audit_key(), migrate=True)
    return Securebox.from_policy(
        Path(settings.policy),
        store=store,
        keys=keys,
        clock=clock,
        argon2=argon2,
        token_keys=token_keys(keys.master),  # the same in every worker (api/keys.py)
    )
