"""Open a SQL store in one call (needs the ``sql`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from securebox_auth.audit_keys import AuditKeyring
    from securebox_auth.stores.sql.store import SqlStore

__all__ = ["open_sql_store"]


def open_sql_store(
    url: str,
    *,
    audit_key: bytes | None = None,
    audit_keys: AuditKeyring | None = None,
    migrate: bool = False,
) -> SqlStore:
    """A :class:`~securebox_auth.stores.sql.SqlStore` on ``url`` (``sqlite:///path`` or
    ``postgresql://...``), sealing with ``audit_keys`` (a keyring) or ``audit_key`` (one
    key). ``migrate=True`` applies the shipped migrations first (a
    deployment usually runs ``securebox db upgrade`` instead)."""
    from securebox_auth.stores.sql import migrate as migrations  # noqa: PLC0415 - optional extra
    from securebox_auth.stores.sql.engine import create_engine  # noqa: PLC0415
    from securebox_auth.stores.sql.store import SqlStore  # noqa: PLC0415

    engine = create_engine(url)
    if migrate:
        migrations.upgrade(engine)
    return SqlStore(engine, audit_key=audit_key, audit_keys=audit_keys)
