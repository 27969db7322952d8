"""The portal's one :class:`~securebox_auth.Securebox`, built from ``settings.SECUREBOX``.

Every rule comes from the policy file through ``Securebox.from_policy``; this module only
says where the store, the keys and the SMS gateway are. ``portal_box()`` builds it on first
use (one per process, shared by the threads of the server); ``use_box`` installs another
(the tests build one on a temporary store with a clock they move).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from securebox_auth import (
    PROFILE_2026,
    PROFILE_TESTING,
    Clock,
    DerivedKeys,
    FileOutbox,
    Securebox,
    SecureboxError,
    open_sql_store,
)

__all__ = ["build_box", "operation_name", "portal_box", "use_box"]

_lock = threading.Lock()
_box: list[Securebox] = []
_ARGON2 = {"2026": PROFILE_2026, "testing": PROFILE_TESTING}


def _config() -> dict[str, Any]:
    config = getattr(settings, "SECUREBOX", None)
    if not isinstance(config, dict):
        raise ImproperlyConfigured("settings.SECUREBOX: a dict (see portal/settings.py)")
    return config


def build_box(*, clock: Clock | None = None, migrate: bool = True) -> Securebox:
    """A Securebox on the configured store, under the configured policy."""
    config = _config()
    try:
        argon2 = _ARGON2[str(config.get("ARGON2", "2026"))]
        keys = DerivedKeys.from_hex(str(config["MASTER_KEY"]))
        sms = config.get("SMS_GATEWAY")  # a securebox Gateway (HttpSmsGateway in production)
        if sms is None:  # the demo's outbox (codes in clear: demos only)
            outbox = Path(config["SMS_OUTBOX"])
            outbox.parent.mkdir(parents=True, exist_ok=True)
            sms = FileOutbox(outbox)
        store = open_sql_store(
            str(config["STORE_URL"]), audit_key=keys.audit_key(), migrate=migrate
        )
        return Securebox.from_policy(
            Path(config["POLICY"]),
            store=store,
            keys=keys,
            clock=clock,
            gateways={"sms": sms},
            argon2=argon2,
            issuer="django-portal",
        )
    except (KeyError, SecureboxError) as exc:
        raise ImproperlyConfigured(f"settings.SECUREBOX: {exc}") from exc


def portal_box() -> Securebox:
    """The process's Securebox (built on first use)."""
    if not _box:
        with _lock:
            if not _box:
                _box.append(build_box())
    return _box[0]


def use_box(box: Securebox | None) -> None:
    """Use ``box`` from now on (``None``: build from the settings again on next use)."""
    with _lock:
        _box.clear()
        if box is not None:
            _box.append(box)


def operation_name(name: str) -> str:
    """The policy operation behind the portal's ``name`` (``SECUREBOX["OPERATIONS"]``)."""
    names = _config().get("OPERATIONS", {})
    operation = names.get(name) if isinstance(names, dict) else None
    if not isinstance(operation, str):
        raise ImproperlyConfigured(f'settings.SECUREBOX["OPERATIONS"] has no {name!r}')
    if portal_box().policy.operation(operation) is None:
        raise ImproperlyConfigured(f"the securebox policy has no operation {operation!r}")
    return operation
