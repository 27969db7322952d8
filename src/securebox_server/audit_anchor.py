"""Anchoring and checkpointing the audit chains while the server runs (ADR 0021).

Every ``audit_anchor_seconds`` the app's lifespan task seals into the global chain each
tenant chain that moved (``Securebox.anchor_audit``) and, when ``audit_checkpoint_file`` and
``audit_checkpoint_key_file`` are set, signs the global chain's head with the Ed25519 key and
appends it to the file (:func:`~securebox_auth.shell.audit_checkpoint.take_checkpoint`,
:class:`~securebox_auth.shell.audit_checkpoint.FileCheckpoints`). It runs once at start-up,
then periodically, and once more at shutdown.

Several workers may run it at once: anchoring takes the global head lock in the store and
seals only the tenants that moved since their last anchor, so a second worker finds nothing
to do; each checkpoint is a signed line appended with ``O_APPEND`` (two workers may append
two checkpoints of the same head, which verify alike).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from fastapi import FastAPI

from securebox_auth.errors import ConfigurationError
from securebox_auth.shell.audit_checkpoint import FileCheckpoints, take_checkpoint
from securebox_auth.shell.securebox import Securebox

__all__ = ["AuditAnchoring", "load_checkpoint_key"]

LOG = logging.getLogger("securebox_server.audit")


def load_checkpoint_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key (PEM, PKCS#8, unencrypted) that signs the checkpoints."""
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"audit_checkpoint_key_file: {type(exc).__name__}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError("audit_checkpoint_key_file: an Ed25519 private key")
    return key


class AuditAnchoring:
    """One round (:meth:`run_once`) and the lifespan that repeats it."""

    def __init__(
        self,
        box: Securebox,
        interval: float,
        checkpoints: FileCheckpoints | None = None,
        key: Ed25519PrivateKey | None = None,
    ) -> None:
        if interval <= 0:
            raise ConfigurationError("audit_anchor_seconds: more than 0")
        self.box, self.interval = box, interval
        self.checkpoints, self.key = checkpoints, key

    def run_once(self) -> int:
        """Anchor the tenants that moved, then checkpoint the global head; the number of
        tenant chains anchored."""
        anchored = len(self.box.anchor_audit())
        if self.checkpoints is not None and self.key is not None:
            take_checkpoint(self.box.store, self.checkpoints, self.key, self.box.clock)
        return anchored

    async def _safe_round(self) -> None:
        try:
            await asyncio.to_thread(self.run_once)
        except Exception:  # a failed round is logged; the next one tries again
            LOG.exception("audit anchoring failed")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self._safe_round()

    def lifespan(self) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
        """The app lifespan: a round at start-up, the periodic task, a round at shutdown."""

        @contextlib.asynccontextmanager
        async def run(_: FastAPI) -> AsyncIterator[None]:
            await self._safe_round()
            task = asyncio.create_task(self._loop())
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await self._safe_round()

        return run
