"""The ``securebox clients`` commands (parser: :mod:`securebox_auth.cli.clients`).

They open the settings' database directly (the library's store for a receiver's account,
migrated like ``securebox serve`` does) and print what the client needs: its ``client_id``
and the token endpoint. Exit codes: 0 done, 1 no such client (``revoke``), 2 a usage or
input error (the message says which).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from securebox_auth.clock import SystemClock
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Siren, UserNumber
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.clients.model import ApiClient
from securebox_server.clients.service import ApiClients
from securebox_server.clients.store import ClientStore
from securebox_server.db import migrate as server_migrate
from securebox_server.settings import load_settings
from securebox_server.wiring import load_master_key

__all__ = ["run"]


def _open(args: argparse.Namespace) -> tuple[ApiClients, SqlStore]:
    settings = load_settings(file=args.settings)
    keys = load_master_key(settings)
    store = open_sql_store(settings.database_url, audit_keys=keys.audit_keyring(), migrate=True)
    server_migrate.upgrade(store.engine)
    clients = ApiClients(
        ClientStore(store.engine), SystemClock(), origin=settings.origin, library=store
    )
    return clients, store


def _credentials(args: argparse.Namespace) -> tuple[object | None, bytes | None]:
    jwks = Path(args.jwks).read_text(encoding="utf-8") if args.jwks else None
    pem = Path(args.certificate).read_bytes() if args.certificate else None
    if jwks is None and pem is None:
        raise MalformedInput("give --jwks, --certificate, or both")
    return jwks, pem


def _show(client: ApiClient, clients: ApiClients) -> None:
    print(f"client_id: {client.client_id}")
    print(f"kind: {client.kind.value}")
    print(f"scopes: {' '.join(sorted(client.scopes))}")
    if client.principal is not None:
        print(f"account: {client.principal.key}")
    methods = [m for m, on in (("private_key_jwt", client.jwks), ("tls_client_auth",
               client.certificate_sha256)) if on]  # fmt: skip
    print(f"token endpoint: {clients.token_url} ({', '.join(methods)})")


def _row(client: ApiClient) -> str:
    who = client.sender or (
        f"{client.subscription}:{','.join(c.value for c in client.companies)}"
        if client.subscription
        else ""
    )
    created = client.created_at.isoformat(timespec="seconds")
    return "\t".join(
        (client.client_id, client.kind.value, client.status.value, who, client.name, created)
    )


def run(args: argparse.Namespace) -> int:
    clients, store = _open(args)
    try:
        if args.command == "add-sender":
            jwks, pem = _credentials(args)
            operator = Operator(args.operator)
            made = clients.add_sender(
                args.sender, args.name, jwks=jwks, certificate_pem=pem, operator=operator
            )
            _show(made, clients)
            return 0
        if args.command == "add-receiver":
            jwks, pem = _credentials(args)
            made = clients.add_receiver(
                Operator(args.operator),
                ClientId.parse(args.client_id),
                [Siren(c.replace(" ", "")) for c in args.company],
                args.name,
                jwks=jwks,
                certificate_pem=pem,
                user_number=UserNumber.parse(args.user_number) if args.user_number else None,
            )
            _show(made, clients)
            return 0
        if args.command == "list":
            for client in clients.store.all():
                print(_row(client))
            return 0
        done = clients.revoke(args.client_id, operator=Operator(args.operator))
        print(f"revoked: {args.client_id}" if done else f"no such client: {args.client_id}")
        return 0 if done else 1
    finally:
        store.engine.dispose()
