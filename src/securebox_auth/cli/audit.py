"""``securebox audit``: anchors, external checkpoints and verification of the audit chains
of a SQL store (one chain per subscription and the global chain, ADR 0021).

    securebox audit keygen --signing-key KEY.pem --public-key PUB.pem
    securebox audit anchor                                               # run it often
    securebox audit checkpoint --checkpoint FILE --signing-key KEY.pem   # then this
    securebox audit checkpoint ... --tenant CLIENT | --all-tenants       # tenant chains
    securebox audit verify --checkpoint FILE --public-key PUB.pem        # exit 1 if broken
    securebox audit verify ... --tenant CLIENT                           # one tenant's trail

``anchor`` seals into the global chain the head of every tenant chain that moved since its
last anchor; ``checkpoint`` signs the global head (and, asked, tenant heads); ``verify``
checks the global chain against its checkpoints, then every tenant chain (or one) against
its anchors and its own checkpoints.

The database is ``--url`` or ``SECUREBOX_DATABASE_URL``. The audit MAC keys (ADR 0059) are
read from the file ``--audit-key-file`` or the environment variable ``SECUREBOX_AUDIT_KEY``:
``id:hex`` pairs, the current first (``a2:<hex>,a1:<hex>``), or one key in hex (unnamed);
or derived from the server's master key file, ``--master-key-file`` (its ``id:hex``
pairs: the audit keys of every master key id, so the trail verifies across rotations).
``--legacy-key-id`` names the key of the events sealed before key ids (default: the oldest).
The checkpoint file should live on another host than the database (see
:mod:`securebox_auth.shell.audit_checkpoint`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from securebox_auth.audit import GLOBAL, AuditChainBroken, check_chain_name
from securebox_auth.audit_keys import AuditKeyMissing, AuditKeyring
from securebox_auth.clock import SystemClock
from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_auth.shell.audit_chains import anchor_chains, verify_audit_chains
from securebox_auth.shell.audit_checkpoint import FileCheckpoints, take_checkpoint
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.stores.sql.cli import configured_engine

if TYPE_CHECKING:
    from securebox_auth.stores.sql.store import SqlStore

__all__ = ["register"]

AUDIT_KEY_ENV: Final = "SECUREBOX_AUDIT_KEY"
_EXTRA = "the audit commands need the sql extra: pip install 'securebox[sql]'"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = subparsers.add_parser("audit", help="audit chain: checkpoints and verification")
    commands = audit.add_subparsers(title="audit commands", metavar="COMMAND", required=True)

    keygen = commands.add_parser("keygen", help="make an Ed25519 checkpoint signing key pair")
    keygen.add_argument("--signing-key", required=True, help="PEM file to create (private)")
    keygen.add_argument("--public-key", required=True, help="PEM file to create (public)")
    keygen.set_defaults(handler=_keygen)

    anchor = commands.add_parser("anchor", help="anchor the tenant chains that moved")
    _database_options(anchor)
    anchor.set_defaults(handler=_anchor)

    for name, text, key_help, handler in (
        ("checkpoint", "sign the current head and append it", "signing key (PEM)", _checkpoint),
        ("verify", "verify the chains against the checkpoints", "public key (PEM)", _verify),
    ):
        command = commands.add_parser(name, help=text)
        _database_options(command)
        command.add_argument("--checkpoint", required=True, help="the checkpoint file")
        option = "--signing-key" if name == "checkpoint" else "--public-key"
        command.add_argument(option, required=True, help=key_help)
        command.add_argument("--tenant", help="a subscription's chain (its client identifier)")
        if name == "checkpoint":
            command.add_argument(
                "--all-tenants", action="store_true", help="also every tenant chain's head"
            )
        command.set_defaults(handler=handler)


def _database_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--url", help="database URL (default: $SECUREBOX_DATABASE_URL)")
    keys = command.add_mutually_exclusive_group()
    keys.add_argument(
        "--audit-key-file",
        help=f"file with the audit keys, id:hex pairs or one hex key (default: ${AUDIT_KEY_ENV})",
    )
    keys.add_argument(
        "--master-key-file", help="the server's master key file: its derived audit keys"
    )
    command.add_argument(
        "--legacy-key-id", default="", help="the key id of events sealed before key ids"
    )


def _tenant(args: argparse.Namespace) -> str | None:
    if args.tenant is None:
        return None
    try:
        tenant = check_chain_name(args.tenant)
    except MalformedInput:
        raise ConfigurationError("--tenant is a client identifier") from None
    if tenant == GLOBAL:
        raise ConfigurationError("--tenant is a client identifier")
    return tenant


def _keygen(args: argparse.Namespace) -> int:
    if Path(args.signing_key).resolve() == Path(args.public_key).resolve():
        raise ConfigurationError("--signing-key and --public-key must be two different files")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(args.signing_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private)
    public = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    Path(args.public_key).write_bytes(public)
    print(f"signing key {args.signing_key}, public key {args.public_key}")
    return 0


def _audit_keys(args: argparse.Namespace) -> AuditKeyring:
    legacy = args.legacy_key_id
    try:
        if args.master_key_file:
            master = Path(args.master_key_file).read_text(encoding="ascii")
            return DerivedKeys.from_hex(master.strip()).audit_keyring(legacy)
        text = (
            Path(args.audit_key_file).read_text(encoding="ascii")
            if args.audit_key_file
            else os.environ.get(AUDIT_KEY_ENV, "")
        )
    except (OSError, UnicodeDecodeError):
        raise ConfigurationError("the key file is not readable") from None
    if not text.strip():
        raise ConfigurationError(
            f"no audit key (--audit-key-file, --master-key-file, ${AUDIT_KEY_ENV})"
        )
    return AuditKeyring.from_hex(text, legacy=legacy)


def _pem(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{path}: {exc.strerror}") from None


def _signing_key(path: str) -> Ed25519PrivateKey:
    data = _pem(path)  # a missing file says so (ConfigurationError is a ValueError too)
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{path}: checkpoints are signed with an Ed25519 key")
    return key


def _public_key(path: str) -> Ed25519PublicKey:
    data = _pem(path)
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError(f"{path}: checkpoints are verified with an Ed25519 key")
    return key


def _store(args: argparse.Namespace) -> SqlStore | None:
    engine = configured_engine(args.url, needs=_EXTRA)
    if engine is None:
        return None
    from securebox_auth.stores.sql.store import SqlStore  # noqa: PLC0415 - optional extra

    return SqlStore(engine, audit_keys=_audit_keys(args))


def _anchor(args: argparse.Namespace) -> int:
    store = _store(args)
    if store is None:
        return 2
    try:
        anchors = anchor_chains(store, SystemClock())
    finally:
        store.engine.dispose()
    print(f"anchored {len(anchors)} tenant chains into the global chain")
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    key = _signing_key(args.signing_key)
    tenant = _tenant(args)
    store = _store(args)
    if store is None:
        return 2
    sink, clock = FileCheckpoints(args.checkpoint), SystemClock()
    try:
        chains = [tenant] if tenant is not None else [GLOBAL]
        if args.all_tenants:
            chains = [GLOBAL, *store.audit_tenants()]
        points = [take_checkpoint(store, sink, key, clock, tenant=c) for c in chains]
    finally:
        store.engine.dispose()
    for point in points:
        chain = f"chain {point.chain}" if point.chain else "global chain"
        print(
            f"checkpoint: {chain}, event {point.sequence} at {point.at.isoformat()} "
            f"(key {point.key})"
        )
    return 0


def _verify(args: argparse.Namespace) -> int:
    public = _public_key(args.public_key)
    tenant = _tenant(args)
    points = FileCheckpoints(args.checkpoint).checkpoints()
    if not any(p.chain == GLOBAL for p in points):
        # a deleted or emptied file must not pass for "nothing to compare"
        print(f"audit chain NOT verified: no checkpoint of the global chain in {args.checkpoint}")
        return 1
    store = _store(args)
    if store is None:
        return 2
    try:
        verified = verify_audit_chains(
            store.audit_keys,
            store,
            checkpoints=points,
            public_key=public,
            tenants=None if tenant is None else [tenant],
        )
    except AuditChainBroken as exc:
        print(f"audit chain BROKEN: {exc}")
        return 1
    except AuditKeyMissing as exc:  # not tampering: a key the verifier lacks
        print(f"audit chain NOT verified, a key is missing: {exc}")
        return 1
    finally:
        store.engine.dispose()
    last = [p for p in points if p.chain == GLOBAL][-1]
    print(
        f"audit chains verified: {verified.total} events in {len(verified.events)} chains; "
        f"{len(points)} checkpoints hold, the last of the global chain at event "
        f"{last.sequence} ({last.at.isoformat()})"
    )
    return 0
