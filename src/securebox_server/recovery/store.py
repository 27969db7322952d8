"""The recovery flows' table (``recovery_flows``, revision s0009): each write is one
transaction; a move is a compare-and-swap on ``version``, so of two processes using the same
link at once exactly one moves the row (the other reads a refusal)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from securebox_auth.flows.recovery import RecoveryFlow, RecoveryKind, RecoveryState
from securebox_auth.identity import Principal
from securebox_server.db.schema import RECOVERY_FLOWS

__all__ = ["RecoveryStore", "StoredFlow"]

_T = RECOVERY_FLOWS
_OPEN = (RecoveryState.AWAITING_CODE.value, RecoveryState.PASSED_CHALLENGE.value)


@dataclass(frozen=True, slots=True)
class StoredFlow:
    flow: RecoveryFlow
    #: The claimed principal once it matched an account (``None`` otherwise: unknown).
    principal: Principal | None
    version: int


def _row(flow: RecoveryFlow) -> dict[str, Any]:
    return {
        "kind": flow.kind.value,
        "state": flow.state.value,
        "failures": flow.failures,
        "created_at": flow.created_at,
        "expires_at": flow.expires_at,
    }


def _stored(row: sa.RowMapping) -> StoredFlow:
    flow = RecoveryFlow(
        id=row["id"],
        kind=RecoveryKind(row["kind"]),
        state=RecoveryState(row["state"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        failures=row["failures"],
    )
    principal = None
    if row["client_id"] is not None and row["user_number"] is not None:
        principal = Principal.parse(row["client_id"], row["user_number"])
    return StoredFlow(flow, principal, row["version"])


class RecoveryStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, flow: RecoveryFlow) -> None:
        with self._engine.begin() as conn:
            conn.execute(_T.insert().values(id=flow.id, version=1, **_row(flow)))

    def get(self, flow_id: str) -> StoredFlow | None:
        if not isinstance(flow_id, str) or not 0 < len(flow_id) <= 64:
            return None
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_T).where(_T.c.id == flow_id)).mappings().first()
        return None if row is None else _stored(row)

    def by_token(self, digest: str) -> StoredFlow | None:
        with self._engine.connect() as conn:
            found = conn.execute(sa.select(_T).where(_T.c.token_digest == digest))
            row = found.mappings().first()
        return None if row is None else _stored(row)

    def claim(
        self,
        stored: StoredFlow,
        moved: RecoveryFlow,
        principal: Principal | None,
        token_digest: str | None,
        *,
        supersede: Principal,
    ) -> bool:
        """The address was given: record the claimed principal (``None`` when it matched
        nothing) and the link's digest, and fail every other open flow of the same
        principal and kind (a newer request invalidates the older ones), in one
        transaction under the flow's version. ``supersede`` names whose older flows fail
        (the caller passes a principal no account has for an unmatched claim, so both
        answers run the same statements)."""
        values = {
            **_row(moved),
            "client_id": principal.client_id.value if principal else None,
            "user_number": principal.user_number.value if principal else None,
            "token_digest": token_digest,
        }
        with self._engine.begin() as conn:
            conn.execute(
                _T.update()
                .where(
                    _T.c.client_id == supersede.client_id.value,
                    _T.c.user_number == supersede.user_number.value,
                    _T.c.kind == moved.kind.value,
                    _T.c.state.in_(_OPEN),
                    _T.c.id != moved.id,
                )
                .values(
                    state=RecoveryState.FAILED.value, token_digest=None, version=_T.c.version + 1
                )
            )
            return self._move(conn, stored, values)

    def move(self, stored: StoredFlow, moved: RecoveryFlow) -> bool:
        """Compare-and-swap the flow to ``moved``; a finished flow forgets its token."""
        with self._engine.begin() as conn:
            return self.move_on(conn, stored, moved)

    def move_on(self, conn: sa.Connection, stored: StoredFlow, moved: RecoveryFlow) -> bool:
        """:meth:`move` in the caller's transaction on ``conn`` (a library store commit's
        ``also``: the flow moves with the library's writes or not at all)."""
        values = _row(moved)
        if moved.state is not RecoveryState.AWAITING_CODE:
            values["token_digest"] = None
        return self._move(conn, stored, values)

    @staticmethod
    def _move(conn: sa.Connection, stored: StoredFlow, values: dict[str, Any]) -> bool:
        done = conn.execute(
            _T.update()
            .where(_T.c.id == stored.flow.id, _T.c.version == stored.version)
            .values(version=stored.version + 1, **values)
        )
        return done.rowcount == 1

    def purge(self, before: datetime) -> int:
        """Delete the flows that expired before ``before`` (the jobs' purge, hourly): a
        link of a deleted flow reads like any other link not valid any more."""
        with self._engine.begin() as conn:
            return conn.execute(_T.delete().where(_T.c.expires_at < before)).rowcount
