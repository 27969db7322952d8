"""The server's audit trail across a rotation of the master key (ADR 0059): a server started
again with ``m2:...,m1:...`` seals new events under m2, and ``securebox audit verify`` with
the master key file verifies every chain, the events of before the rotation included.
Without the retired id in the keys, the verification says which key is missing."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from securebox_auth.audit import GLOBAL
from securebox_auth.cli import main
from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.shell.audit_checkpoint import FileCheckpoints
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_server.settings import Settings
from securebox_server.wiring import build_securebox
from tests.server.conftest import CLIENT, CODE, open_user

OTHER = "987654321"


def _start(settings: Settings) -> Securebox:
    """What a server process does at start-up: its keys from the master key file."""
    return build_securebox(settings, clock=FixedClock(), argon2=PROFILE_TESTING)


def _stop(box: Securebox) -> None:
    box.store.engine.dispose()  # type: ignore[attr-defined]


def test_audit_verify_after_a_restart_with_a_rotated_master_key(
    tmp_path: Path, migrated_sqlite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "server.db"
    db.write_bytes(migrated_sqlite.read_bytes())
    url = f"sqlite:///{db}"
    master = tmp_path / "master.key"
    m1, m2 = secrets.token_hex(32), secrets.token_hex(32)
    master.write_text(f"m1:{m1}\n", encoding="ascii")
    settings = Settings(database_url=url, master_key_file=master, public_url="http://testserver")

    box = _start(settings)
    open_user(box)  # events in the subscription's chain and the global one
    box.anchor_audit()
    _stop(box)
    master.write_text(f"m2:{m2},m1:{m1}\n", encoding="ascii")  # the rotation, then a restart
    box = _start(settings)
    open_user(box, client_id=OTHER)
    # the first subscription's chain goes on under m2
    assert box.codes.change_code(CLIENT, "01", CODE, "69031457").changed
    box.anchor_audit()
    ids = {e.key_id for e in box.audit_log(CLIENT)}
    assert ids == {"m1", "m2"}
    assert {e.key_id for e in box.audit_log(OTHER)} == {"m2"}
    assert box.verify_audit() == len(list(box.audit_log()))
    _stop(box)

    signing, public, points = (str(tmp_path / n) for n in ("k.pem", "p.pem", "c.jsonl"))
    database = ["--url", url]
    assert main(["audit", "keygen", "--signing-key", signing, "--public-key", public]) == 0
    checkpoint = ["audit", "checkpoint", *database, "--checkpoint", points]
    assert main([*checkpoint, "--signing-key", signing, "--master-key-file", str(master)]) == 0
    verify = ["audit", "verify", *database, "--checkpoint", points, "--public-key", public]
    capsys.readouterr()
    assert main([*verify, "--master-key-file", str(master)]) == 0
    assert "audit chains verified" in capsys.readouterr().out

    # the derived audit keys in a file of their own (a verifier without the master key)
    ring = DerivedKeys.from_hex(f"m2:{m2},m1:{m1}").audit_keyring()
    keys = tmp_path / "audit.keys"
    keys.write_text(ring.to_hex(), "ascii")
    assert main([*verify, "--audit-key-file", str(keys)]) == 0
    capsys.readouterr()

    # m1 removed from the master key file: the events under it cannot be verified, and
    # the command says which key is missing (not that the chain was tampered with)
    master.write_text(f"m2:{m2}\n", encoding="ascii")
    assert main([*verify, "--master-key-file", str(master)]) == 1
    out = capsys.readouterr().out
    assert "a key is missing" in out
    assert "'m1'" in out
    assert "BROKEN" not in out
    # the audit key of the current master key alone, as before key ids: the same finding
    single = tmp_path / "audit.key"
    single.write_text(ring.keys["m2"].hex(), "ascii")
    assert main([*verify, "--audit-key-file", str(single)]) == 1
    assert "a key is missing" in capsys.readouterr().out
    with pytest.raises(SystemExit) as both:  # one source of keys, not two
        main([*verify, "--audit-key-file", str(single), "--master-key-file", "x"])
    assert both.value.code == 2


def test_the_key_options_are_checked(
    tmp_path: Path, migrated_sqlite: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "server.db"
    db.write_bytes(migrated_sqlite.read_bytes())
    public = str(tmp_path / "p.pem")
    signing = str(tmp_path / "k.pem")
    assert main(["audit", "keygen", "--signing-key", signing, "--public-key", public]) == 0
    points = tmp_path / "c.jsonl"
    master = tmp_path / "master.key"
    master.write_text(f"m1:{secrets.token_hex(32)}", encoding="ascii")
    base = ["audit", "checkpoint", "--url", f"sqlite:///{db}", "--checkpoint", str(points)]
    base += ["--signing-key", signing]
    assert main([*base, "--master-key-file", str(master)]) == 0
    assert [p.chain for p in FileCheckpoints(points).checkpoints()] == [GLOBAL]
    for extra in (
        ["--master-key-file", str(tmp_path / "absent")],
        ["--master-key-file", str(master), "--legacy-key-id", "m9"],
        ["--audit-key-file", str(master), "--legacy-key-id", "m9"],
    ):
        capsys.readouterr()
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert err.strip()
        assert master.read_text() not in err  # never the key
