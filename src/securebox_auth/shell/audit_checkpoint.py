"""External checkpoints of the audit chain: the head, signed, kept somewhere else.

The audit chain (:mod:`securebox_auth.audit`) shows an edited, inserted, reordered or
removed event, but not a **truncated tail**: whoever can write the database can delete the
last events and move the head row back, and the shorter chain still verifies. A checkpoint
records the head (sequence, MAC, time) outside the database, signed with Ed25519:

* :func:`make_checkpoint` signs a head (pure: the time is an argument);
* a :class:`CheckpointSink` keeps checkpoints elsewhere; :class:`FileCheckpoints` appends one
  JSON line per checkpoint to a file (put it on another host, a WORM bucket, a log shipper);
* :func:`verify_against_checkpoints` verifies the chain and checks that it still contains
  every checkpointed head: a chain cut below a checkpoint, or rewritten below it (even by
  someone holding the audit key), fails with :class:`~securebox_auth.audit.AuditChainBroken`.

There is a chain per subscription and a global chain (ADR 0021): a checkpoint names its
chain (:attr:`Checkpoint.chain`, absent from the line and the signed text for the global
chain, so checkpoints of before still verify); a file may hold checkpoints of several
chains, and a verifier takes those of the chain it verifies.

Ed25519 rather than an HMAC: a verifier (an auditor, a monitoring job) needs only the public
key, which cannot make checkpoints, and the signing key is a key of its own, separate from
the audit MAC key. Events sealed after the last checkpoint are protected by the chain only
(take checkpoints often; each costs one signature and one line).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from securebox_auth.audit import (
    GENESIS,
    GLOBAL,
    AuditChainBroken,
    SealedEvent,
    check_chain_name,
    verify_chain,
)
from securebox_auth.audit_keys import AuditKeys
from securebox_auth.clock import Clock, require_aware
from securebox_auth.errors import MalformedInput

__all__ = [
    "CHECKPOINT_FORMAT",
    "AuditHead",
    "Checkpoint",
    "CheckpointSink",
    "CheckpointSource",
    "FileCheckpoints",
    "key_id",
    "make_checkpoint",
    "take_checkpoint",
    "verify_against_checkpoints",
]

#: The version of the signed checkpoint text.
CHECKPOINT_FORMAT: Final = 1
_DOMAIN: Final = b"securebox audit checkpoint v1\n"
_MAC: Final = re.compile(r"[0-9a-f]{64}")
_KEY_ID: Final = re.compile(r"[0-9a-f]{16}")
_MAX_LINE: Final = 1024


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short name of a signing key (the start of the SHA-256 of its raw public key)."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The head of chain ``chain`` at ``at``: event ``sequence`` has MAC ``mac`` (``0`` and
    :data:`~securebox_auth.audit.GENESIS` for an empty chain), signed by key ``key``."""

    sequence: int
    mac: str
    at: datetime
    key: str
    signature: bytes = field(repr=False)
    #: :data:`~securebox_auth.audit.GLOBAL` or the client identifier of a tenant chain.
    chain: str = GLOBAL

    def __post_init__(self) -> None:
        if not isinstance(self.sequence, int) or isinstance(self.sequence, bool):
            raise MalformedInput("a checkpoint sequence is an integer")
        if self.sequence < 0 or (self.sequence == 0) != (self.mac == GENESIS):
            raise MalformedInput("a checkpoint names an event of the chain")
        if not isinstance(self.mac, str) or not _MAC.fullmatch(self.mac):
            raise MalformedInput("a checkpoint MAC is 64 hexadecimal digits")
        if not isinstance(self.key, str) or not _KEY_ID.fullmatch(self.key):
            raise MalformedInput("a checkpoint key id is 16 hexadecimal digits")
        object.__setattr__(self, "at", require_aware(self.at, "at"))
        check_chain_name(self.chain)

    def signed_bytes(self) -> bytes:
        """What the signature covers: a domain string and the canonical JSON of the rest."""
        return _DOMAIN + _canonical(self.sequence, self.mac, self.at, self.key, self.chain)

    def to_line(self) -> str:
        """One line of JSON (no newline), the form a sink stores."""
        body = {
            "v": CHECKPOINT_FORMAT,
            "sequence": self.sequence,
            "mac": self.mac,
            "at": _time(self.at),
            "key": self.key,
            "sig": base64.urlsafe_b64encode(self.signature).decode().rstrip("="),
        }
        if self.chain != GLOBAL:
            body["chain"] = self.chain
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_line(cls, line: str) -> Checkpoint:
        """Parse :meth:`to_line`; anything else raises
        :class:`~securebox_auth.errors.MalformedInput`. The signature is not checked here."""
        if not isinstance(line, str) or len(line) > _MAX_LINE:
            raise MalformedInput("not a checkpoint line")
        try:
            body = json.loads(line)
            if not isinstance(body, dict) or body.get("v") != CHECKPOINT_FORMAT:
                raise MalformedInput(f"not a checkpoint of format {CHECKPOINT_FORMAT}")
            if set(body) - {"chain"} != {"v", "sequence", "mac", "at", "key", "sig"}:
                raise MalformedInput("a checkpoint has exactly its six fields (and a chain)")
            chain = body.get("chain", GLOBAL)
            if chain == GLOBAL and "chain" in body:
                raise MalformedInput("the global chain is named by leaving the chain out")
            sig = body["sig"]
            if not isinstance(sig, str) or not re.fullmatch(r"[A-Za-z0-9_-]{86}", sig):
                raise MalformedInput("a checkpoint signature is 64 bytes")
            at = body["at"]
            if not isinstance(at, str):
                raise MalformedInput("a checkpoint time is text")
            return cls(
                sequence=body["sequence"],
                mac=body["mac"],
                at=datetime.fromisoformat(at),
                key=body["key"],
                signature=base64.urlsafe_b64decode(sig + "=="),
                chain=chain,
            )
        except MalformedInput:
            raise
        except (ValueError, TypeError, binascii.Error, RecursionError):
            raise MalformedInput("not a checkpoint line") from None

    def verify(self, public_key: Ed25519PublicKey) -> None:
        """Raise :class:`~securebox_auth.audit.AuditChainBroken` unless ``public_key``
        signed this checkpoint."""
        if key_id(public_key) != self.key:
            raise AuditChainBroken(self.sequence, "the checkpoint was signed by another key")
        try:
            public_key.verify(self.signature, self.signed_bytes())
        except InvalidSignature:
            raise AuditChainBroken(self.sequence, "the checkpoint signature is wrong") from None


def _time(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def _canonical(sequence: int, mac: str, at: datetime, key: str, chain: str) -> bytes:
    body: dict[str, object] = {"sequence": sequence, "mac": mac, "at": _time(at), "key": key}
    if chain != GLOBAL:
        body["chain"] = chain
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def make_checkpoint(
    signing_key: Ed25519PrivateKey,
    sequence: int,
    mac: str,
    at: datetime,
    *,
    chain: str = GLOBAL,
) -> Checkpoint:
    """Sign the head ``(sequence, mac)`` of ``chain`` as of ``at``."""
    key = key_id(signing_key.public_key())
    at = require_aware(at, "at")
    signature = signing_key.sign(_DOMAIN + _canonical(sequence, mac, at, key, chain))
    return Checkpoint(sequence, mac, at, key, signature, chain)


class AuditHead(Protocol):
    """A store that can say where a chain ends (both stores can)."""

    def audit_head(self, tenant: str = GLOBAL) -> tuple[int, str]: ...


class CheckpointSink(Protocol):
    """Somewhere outside the database that keeps checkpoints."""

    def append(self, checkpoint: Checkpoint) -> None: ...


class CheckpointSource(Protocol):
    """Where a verifier reads the checkpoints back, oldest first."""

    def checkpoints(self) -> list[Checkpoint]: ...


class FileCheckpoints:
    """An append-only file of checkpoints, one JSON line each (a sink and a source).

    Each append opens the file with ``O_APPEND``, writes one line and ``fsync``\\ s it.
    The file is only as safe as where it lives: keep it off the database host, or ship it
    (a log collector, object storage with retention lock, ``chattr +a``).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, checkpoint: Checkpoint) -> None:
        line = (checkpoint.to_line() + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint of the file; a malformed line raises
        :class:`~securebox_auth.errors.MalformedInput` naming its line number."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        found = []
        for number, raw in enumerate(data.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                found.append(Checkpoint.from_line(raw.decode("utf-8")))
            except (MalformedInput, UnicodeDecodeError):
                raise MalformedInput(f"{self.path}: line {number} is not a checkpoint") from None
        return found


def take_checkpoint(
    store: AuditHead,
    sink: CheckpointSink,
    signing_key: Ed25519PrivateKey,
    clock: Clock,
    *,
    tenant: str = GLOBAL,
) -> Checkpoint:
    """Sign the current head of chain ``tenant`` (the global chain by default) and append it
    to ``sink`` (the shell: run it often, for instance every minute and at shutdown)."""
    sequence, mac = store.audit_head(tenant)
    checkpoint = make_checkpoint(signing_key, sequence, mac, clock.now(), chain=tenant)
    sink.append(checkpoint)
    return checkpoint


def _checked(
    events: Iterable[SealedEvent], expected: dict[int, Checkpoint]
) -> Iterator[SealedEvent]:
    for sealed in events:
        point = expected.get(sealed.sequence)
        if point is not None and sealed.mac != point.mac:
            raise AuditChainBroken(
                sealed.sequence, "the chain was rewritten: the event differs from its checkpoint"
            )
        yield sealed


def verify_against_checkpoints(
    audit_key: AuditKeys,
    events: Iterable[SealedEvent],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey,
    *,
    chain: str = GLOBAL,
) -> int:
    """Verify ``chain`` from its first event, and that it holds every checkpoint of that
    chain among ``checkpoints`` (the others are left alone): each one
    signed by ``public_key``, in order, and the chain's event at each checkpointed sequence
    has the checkpointed MAC. Return the number of events.

    Raises :class:`~securebox_auth.audit.AuditChainBroken` when a checkpoint is not
    authentic, when checkpoints go backwards (the file was edited), when the chain ends
    before the last checkpoint (its tail was cut), or when an event differs below a
    checkpoint (it was rewritten).
    """
    expected: dict[int, Checkpoint] = {}
    last: Checkpoint | None = None
    for point in (p for p in checkpoints if p.chain == chain):
        point.verify(public_key)
        if last is not None and (point.sequence < last.sequence or point.at < last.at):
            raise AuditChainBroken(point.sequence, "the checkpoints go backwards")
        if point.sequence in expected and expected[point.sequence].mac != point.mac:
            raise AuditChainBroken(point.sequence, "two checkpoints disagree")
        if point.sequence > 0:
            expected[point.sequence] = point
        last = point
    count = verify_chain(audit_key, _checked(events, expected), chain=chain)
    if last is not None and count < last.sequence:
        raise AuditChainBroken(
            count,
            f"the chain ends at event {count}, before the checkpoint of event "
            f"{last.sequence} taken at {_time(last.at)}: its tail was removed",
        )
    return count
