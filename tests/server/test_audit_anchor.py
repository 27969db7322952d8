"""The server anchors the tenant audit chains and checkpoints the global chain in its
lifespan (ADR 0021): a round at start-up, then every ``audit_anchor_seconds``, and one at
shutdown; a second round (another worker) finds nothing to anchor; the checkpoint file
verifies against the chain with the signing key. The settings refuse half a setup."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from securebox_auth.audit import GLOBAL
from securebox_auth.errors import ConfigurationError
from securebox_auth.shell.audit_checkpoint import FileCheckpoints, verify_against_checkpoints
from securebox_server.audit_anchor import AuditAnchoring
from securebox_server.settings import Settings, load_settings
from tests.server.conftest import AppMaker, open_user


def _key(tmp_path: Path) -> tuple[Ed25519PrivateKey, Path]:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "checkpoint.pem"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return key, path


def test_the_lifespan_anchors_and_checkpoints(make_app: AppMaker, tmp_path: Path) -> None:
    key, key_file = _key(tmp_path)
    file = tmp_path / "checkpoints.jsonl"
    client, box, _ = make_app(
        audit_anchor_seconds=3600, audit_checkpoint_file=file, audit_checkpoint_key_file=key_file
    )
    open_user(box)  # events in the subscription's tenant chain
    tenants = box.audit_tenants()
    assert tenants
    with client:  # start-up round
        assert client.get("/healthz").status_code in (200, 404)
        assert box.anchor_audit() == []  # already anchored: another worker finds nothing
    points = FileCheckpoints(file).checkpoints()
    head = box.store.audit_head(GLOBAL)
    assert head[0] == len(list(box.audit_log(GLOBAL))) > 0  # the anchors of the tenants
    for point in points:  # signed by the key, over the global chain's head
        point.verify(key.public_key())
        assert (point.sequence, point.mac, point.chain) == (*head, GLOBAL)
    audit_key = box.store.audit_keys  # type: ignore[attr-defined]
    events = box.audit_log(GLOBAL)
    total = verify_against_checkpoints(audit_key, events, points, key.public_key())
    assert total == head[0]
    assert box.verify_audit() > total


def test_a_round_that_fails_is_retried_not_fatal(make_app: AppMaker) -> None:
    _, box, _ = make_app()
    anchoring = AuditAnchoring(box, 0.01)
    calls: list[int] = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database away")
        return 0

    anchoring.run_once = flaky  # type: ignore[method-assign]

    async def run() -> None:
        async with anchoring.lifespan()(None):  # type: ignore[arg-type]
            await asyncio.sleep(0.05)

    asyncio.run(run())
    assert len(calls) >= 3  # start-up (failed), periodic, shutdown


def test_the_settings(tmp_path: Path) -> None:
    _, key_file = _key(tmp_path)
    assert load_settings({"SECUREBOX_DEMO": "1"}).audit_anchor_seconds == 60
    production = {"SECUREBOX_MASTER_KEY_FILE": str(tmp_path / "master")}
    assert load_settings(production).audit_anchor_seconds == 0  # off by default
    on = load_settings({**production, "SECUREBOX_AUDIT_ANCHOR_SECONDS": "30"})
    assert on.audit_anchor_seconds == 30
    for bad in (
        {"audit_anchor_seconds": -1},
        {"audit_anchor_seconds": 60, "audit_checkpoint_file": tmp_path / "c"},
        {"audit_checkpoint_file": tmp_path / "c", "audit_checkpoint_key_file": key_file},
    ):
        with pytest.raises(ConfigurationError):
            Settings(demo=True, **bad)
    with pytest.raises(ConfigurationError):
        load_settings({**production, "SECUREBOX_AUDIT_ANCHOR_SECONDS": "soon"})
