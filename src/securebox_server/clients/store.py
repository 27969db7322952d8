"""The API clients' tables (``api_clients``, ``api_client_jtis``, ``api_tokens``, revision
s0004) over one SQLAlchemy engine: the imperative shell of :mod:`securebox_server.clients`.

* Single use of an assertion's ``jti`` is the primary key of ``api_client_jtis``: of two
  requests with one assertion, in two threads or two processes, exactly one inserts it
  (the other meets the key and gets ``invalid_client``); the row and the access token are
  committed together.
* Access tokens are opaque; only their SHA-256 is stored. A token is found by its digest
  joined to its client, so a revoked client's tokens stop at once (its rows are deleted in
  the revocation's commit too).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Principal, Siren
from securebox_auth.stores.sql.engine import WRITE_OPTION
from securebox_server.clients.model import ApiClient, ClientKind, ClientStatus, OAuthError
from securebox_server.db.schema import API_CLIENT_JTIS, API_CLIENTS, API_TOKENS

__all__ = ["ClientStore", "StoredToken"]


@dataclass(frozen=True, slots=True)
class StoredToken:
    """An access token's row with its client."""

    client: ApiClient
    scopes: frozenset[str]
    issued_at: datetime
    expires_at: datetime
    certificate_sha256: str | None


def _row(client: ApiClient) -> dict[str, object]:
    return {
        "client_id": client.client_id,
        "kind": client.kind.value,
        "name": client.name,
        "sender": client.sender,
        "subscription": client.subscription.value if client.subscription else None,
        "principal": client.principal.key if client.principal else None,
        "companies": json.dumps([c.value for c in client.companies]),
        "jwks": json.dumps(client.jwks, sort_keys=True) if client.jwks is not None else None,
        "certificate_sha256": client.certificate_sha256,
        "scopes": " ".join(sorted(client.scopes)),
        "status": client.status.value,
        "created_at": client.created_at,
        "revoked_at": client.revoked_at,
    }


def _client(row: sa.Row[tuple[object, ...]] | sa.RowMapping) -> ApiClient:
    m = row._mapping if isinstance(row, sa.Row) else row
    return ApiClient(
        client_id=m["client_id"],
        kind=ClientKind(m["kind"]),
        name=m["name"],
        scopes=frozenset(str(m["scopes"]).split()),
        status=ClientStatus(m["status"]),
        created_at=m["created_at"],
        sender=m["sender"],
        subscription=ClientId(m["subscription"]) if m["subscription"] else None,
        principal=Principal.from_key(m["principal"]) if m["principal"] else None,
        companies=tuple(Siren(c) for c in json.loads(m["companies"])),
        jwks=json.loads(m["jwks"]) if m["jwks"] else None,
        certificate_sha256=m["certificate_sha256"],
        revoked_at=m["revoked_at"],
    )


class ClientStore:
    """Clients, used assertion ids and access tokens; times always come from the caller."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})

    def _write(self) -> AbstractContextManager[Connection]:
        return self._writer.begin()

    def add(self, client: ApiClient) -> None:
        """Register ``client``; :class:`MalformedInput` when its certificate is another's."""
        try:
            with self._write() as conn:
                conn.execute(API_CLIENTS.insert().values(**_row(client)))
        except IntegrityError:
            raise MalformedInput("this client id or certificate is already registered") from None

    def get(self, client_id: str) -> ApiClient | None:
        if not isinstance(client_id, str) or not 0 < len(client_id) <= 64:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(API_CLIENTS).where(API_CLIENTS.c.client_id == client_id)
            ).first()
        return _client(row) if row is not None else None

    def all(self) -> list[ApiClient]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(API_CLIENTS).order_by(API_CLIENTS.c.created_at)).all()
        return [_client(r) for r in rows]

    def revoke(self, client_id: str, now: datetime) -> ApiClient | None:
        """Mark the client revoked and delete its tokens, in one commit; the client as it
        was before (``None``: no such client)."""
        with self._write() as conn:
            row = conn.execute(
                sa.select(API_CLIENTS).where(API_CLIENTS.c.client_id == client_id)
            ).first()
            if row is None:
                return None
            conn.execute(
                API_CLIENTS.update()
                .where(API_CLIENTS.c.client_id == client_id)
                .values(status=ClientStatus.REVOKED.value, revoked_at=now)
            )
            conn.execute(API_TOKENS.delete().where(API_TOKENS.c.client_id == client_id))
        return _client(row)

    def issue(
        self,
        client_id: str,
        *,
        token_sha256: str,
        scopes: Sequence[str],
        now: datetime,
        expires_at: datetime,
        jti: tuple[str, datetime] | None = None,
        certificate_sha256: str | None = None,
    ) -> None:
        """In one commit: remember ``jti`` (``(jti, until)``; a used one raises
        ``invalid_client``) and store the token's digest. The client's expired ``jti`` rows
        go first, so the table holds only live ones."""
        try:
            with self._write() as conn:
                if jti is not None:
                    conn.execute(
                        API_CLIENT_JTIS.delete().where(
                            API_CLIENT_JTIS.c.client_id == client_id,
                            API_CLIENT_JTIS.c.expires_at <= now,
                        )
                    )
                    conn.execute(
                        API_CLIENT_JTIS.insert().values(
                            client_id=client_id, jti=jti[0], expires_at=jti[1]
                        )
                    )
                conn.execute(
                    API_TOKENS.insert().values(
                        token_sha256=token_sha256,
                        client_id=client_id,
                        scopes=" ".join(sorted(scopes)),
                        issued_at=now,
                        expires_at=expires_at,
                        certificate_sha256=certificate_sha256,
                    )
                )
        except IntegrityError:
            raise OAuthError.client("this assertion was already used (jti)") from None

    def token(self, token_sha256: str) -> StoredToken | None:
        """The token of this digest with its client (revoked or not: the caller decides)."""
        t = API_TOKENS.c
        query = (
            sa.select(
                API_CLIENTS,
                t.scopes.label("t_scopes"),
                t.issued_at.label("t_issued_at"),
                t.expires_at.label("t_expires_at"),
                t.certificate_sha256.label("t_certificate"),
            )
            .join(API_TOKENS, API_CLIENTS.c.client_id == t.client_id)
            .where(API_TOKENS.c.token_sha256 == token_sha256)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        m = row._mapping
        return StoredToken(
            client=_client(m),
            scopes=frozenset(str(m["t_scopes"]).split()),
            issued_at=m["t_issued_at"],
            expires_at=m["t_expires_at"],
            certificate_sha256=m["t_certificate"],
        )

    def sweep(self, now: datetime) -> int:
        """Delete expired tokens and assertion ids (the jobs worker may call it)."""
        with self._write() as conn:
            tokens = conn.execute(API_TOKENS.delete().where(API_TOKENS.c.expires_at <= now))
            jtis = conn.execute(API_CLIENT_JTIS.delete().where(API_CLIENT_JTIS.c.expires_at <= now))
        return int(tokens.rowcount or 0) + int(jtis.rowcount or 0)
