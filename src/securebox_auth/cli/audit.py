"""``securebox audit``: external checkpoints of the audit chain of a SQL store.

    securebox audit keygen --signing-key KEY.pem --public-key PUB.pem
    securebox audit checkpoint --checkpoint FILE --signing-key KEY.pem   # run it often
    securebox audit verify --checkpoint FILE --public-key PUB.pem        # exit 1 if broken

The database is ``--url`` or ``SECUREBOX_DATABASE_URL``; the audit MAC key is read, in hex,
from the file ``--audit-key-file`` or the environment variable ``SECUREBOX_AUDIT_KEY``. The
checkpoint file should live on another host than the database (see
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

from securebox_auth.audit import AuditChainBroken
from securebox_auth.clock import SystemClock
from securebox_auth.errors import ConfigurationError
from securebox_auth.shell.audit_checkpoint import (
    FileCheckpoints,
    take_checkpoint,
    verify_against_checkpoints,
)
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

    for name, text, key_help, handler in (
        ("checkpoint", "sign the current head and append it", "signing key (PEM)", _checkpoint),
        ("verify", "verify the chain against the checkpoints", "public key (PEM)", _verify),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--url", help="database URL (default: $SECUREBOX_DATABASE_URL)")
        command.add_argument(
            "--audit-key-file", help=f"file with the audit key in hex (default: ${AUDIT_KEY_ENV})"
        )
        command.add_argument("--checkpoint", required=True, help="the checkpoint file")
        option = "--signing-key" if name == "checkpoint" else "--public-key"
        command.add_argument(option, required=True, help=key_help)
        command.set_defaults(handler=handler)


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


def _audit_key(args: argparse.Namespace) -> bytes:
    try:
        text = (
            Path(args.audit_key_file).read_text()
            if args.audit_key_file
            else os.environ.get(AUDIT_KEY_ENV, "")
        )
        key = bytes.fromhex(text.strip())
    except (OSError, ValueError, UnicodeDecodeError):
        raise ConfigurationError("the audit key is not readable hexadecimal") from None
    if len(key) < 32:
        raise ConfigurationError(
            f"no audit key of 32 bytes or more (--audit-key-file, ${AUDIT_KEY_ENV})"
        )
    return key


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

    return SqlStore(engine, audit_key=_audit_key(args))


def _checkpoint(args: argparse.Namespace) -> int:
    key = _signing_key(args.signing_key)
    store = _store(args)
    if store is None:
        return 2
    try:
        point = take_checkpoint(store, FileCheckpoints(args.checkpoint), key, SystemClock())
    finally:
        store.engine.dispose()
    print(f"checkpoint: event {point.sequence} at {point.at.isoformat()} (key {point.key})")
    return 0


def _verify(args: argparse.Namespace) -> int:
    public = _public_key(args.public_key)
    points = FileCheckpoints(args.checkpoint).checkpoints()
    if not points:  # a deleted or emptied file must not pass for "nothing to compare"
        print(f"audit chain NOT verified: no checkpoint in {args.checkpoint}")
        return 1
    store = _store(args)
    if store is None:
        return 2
    try:
        count = verify_against_checkpoints(store.audit_key, store.audit_log(), points, public)
    except AuditChainBroken as exc:
        print(f"audit chain BROKEN: {exc}")
        return 1
    finally:
        store.engine.dispose()
    last = points[-1]
    print(
        f"audit chain verified: {count} events; {len(points)} checkpoints hold, the last "
        f"at event {last.sequence} ({last.at.isoformat()})"
    )
    return 0
