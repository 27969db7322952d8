"""The profile of a user as the bank's guide records it (civility, names, phones, e-mail,
function): facts the library's :class:`~securebox_auth.entitlements.accounts.Account` does
not hold, kept in the server's ``admin_user_profiles`` table (revision s0007) keyed by the
principal. Reads are scoped to a subscription: another subscription's user is "not found"."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from securebox_auth.identity import ClientId, Principal
from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_server.db.schema import ADMIN_USER_PROFILES as PROFILES

__all__ = ["Profile", "ProfileBook", "delete_profile", "put_profile"]


@dataclass(frozen=True, slots=True)
class Profile:
    civility: str
    last_name: str
    first_name: str
    mobile: str | None
    phone: str | None
    email: str
    function: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        return cls(**{k: data.get(k) for k in cls.__slots__})  # type: ignore[arg-type]


def _profile(row: Any) -> Profile:
    return Profile(
        row.civility, row.last_name, row.first_name, row.mobile, row.phone, row.email, row.function
    )


class ProfileBook:
    """The repository (SQLAlchemy Core on the server's engine)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, principal: Principal) -> Profile | None:
        query = PROFILES.select().where(PROFILES.c.principal == principal.key)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _profile(row)

    def of(self, client_id: ClientId) -> dict[str, Profile]:
        """Every profile of a subscription, by principal key."""
        query = PROFILES.select().where(PROFILES.c.client_id == client_id.value)
        with self.engine.connect() as conn:
            return {row.principal: _profile(row) for row in conn.execute(query)}

    def put(self, principal: Principal, profile: Profile, now: datetime) -> None:
        with self.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            put_profile(conn, principal, profile, now)

    def delete(self, principal: Principal) -> None:
        with self.engine.execution_options(**{WRITE_OPTION: True}).begin() as conn:
            delete_profile(conn, principal)


def put_profile(conn: Connection, principal: Principal, profile: Profile, now: datetime) -> None:
    """Write ``principal``'s profile on ``conn`` (in the caller's transaction: the library's
    commit of the account, with ``also=``)."""
    values = {**profile.as_dict(), "client_id": principal.client_id.value, "updated_at": now}
    done = conn.execute(
        PROFILES.update().where(PROFILES.c.principal == principal.key).values(**values)
    )
    if done.rowcount == 0:
        conn.execute(PROFILES.insert().values(principal=principal.key, **values))


def delete_profile(conn: Connection, principal: Principal) -> None:
    conn.execute(sa.delete(PROFILES).where(PROFILES.c.principal == principal.key))
