"""shell/audit_checkpoint.py: signed checkpoints of the audit head, their file, and verification
against them (in memory; the SQL attacks are in tests/stores/sql/test_audit_checkpoint.py)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.audit import GENESIS, AuditChainBroken, AuditEvent
from securebox_auth.clock import FixedClock
from securebox_auth.errors import MalformedInput
from securebox_auth.shell.audit_checkpoint import (
    Checkpoint,
    FileCheckpoints,
    make_checkpoint,
    take_checkpoint,
    verify_against_checkpoints,
)
from securebox_auth.stores.memory import MemoryStore
from tests.support import NOW

KEY = b"\x42" * 32
SIGNER = Ed25519PrivateKey.generate()
PUBLIC = SIGNER.public_key()


def _store(events: int) -> MemoryStore:
    store = MemoryStore(audit_key=KEY)
    for n in range(events):
        store.commit([], [AuditEvent.make(NOW, "x", actor="a", subject="s", outcome=str(n))])
    return store


def test_a_checkpoint_round_trips_through_its_line() -> None:
    point = make_checkpoint(SIGNER, 3, "ab" * 32, NOW)
    line = point.to_line()
    assert "\n" not in line
    assert Checkpoint.from_line(line) == point
    Checkpoint.from_line(line).verify(PUBLIC)
    assert json.loads(line)["v"] == 1


def test_an_altered_checkpoint_does_not_verify() -> None:
    point = make_checkpoint(SIGNER, 3, "ab" * 32, NOW)
    for forged in (
        replace(point, sequence=2),
        replace(point, mac="cd" * 32),
        replace(point, at=NOW + timedelta(seconds=1)),
    ):
        with pytest.raises(AuditChainBroken, match="signature"):
            forged.verify(PUBLIC)
    with pytest.raises(AuditChainBroken, match="another key"):
        point.verify(Ed25519PrivateKey.generate().public_key())


def test_the_empty_chain_and_the_file(tmp_path: Path) -> None:
    sink = FileCheckpoints(tmp_path / "c.jsonl")
    assert sink.checkpoints() == []
    store = _store(0)
    clock = FixedClock(NOW)
    empty = take_checkpoint(store, sink, SIGNER, clock)
    assert (empty.sequence, empty.mac) == (0, GENESIS)
    store = _store(3)
    clock.advance(timedelta(seconds=1))
    take_checkpoint(store, sink, SIGNER, clock)
    assert verify_against_checkpoints(KEY, store.audit_log(), sink.checkpoints(), PUBLIC) == 3
    with (tmp_path / "c.jsonl").open("a") as out:
        out.write("not json\n")
    with pytest.raises(MalformedInput, match="line 3"):
        sink.checkpoints()


def test_checkpoints_that_go_backwards_or_disagree_are_refused() -> None:
    store = _store(4)
    events = list(store.audit_log())
    late = make_checkpoint(SIGNER, 4, events[3].mac, NOW + timedelta(minutes=2))
    early = make_checkpoint(SIGNER, 2, events[1].mac, NOW + timedelta(minutes=1))
    assert verify_against_checkpoints(KEY, events, [early, late], PUBLIC) == 4
    with pytest.raises(AuditChainBroken, match="backwards"):
        verify_against_checkpoints(KEY, events, [late, early], PUBLIC)
    other = make_checkpoint(SIGNER, 4, events[2].mac, NOW + timedelta(minutes=3))
    with pytest.raises(AuditChainBroken):
        verify_against_checkpoints(KEY, events, [late, other], PUBLIC)
    with pytest.raises(AuditChainBroken, match="tail was removed"):
        verify_against_checkpoints(KEY, events[:3], [early, late], PUBLIC)


@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_any_line_is_a_checkpoint_or_malformed_input(line: str) -> None:
    with contextlib.suppress(MalformedInput):
        Checkpoint.from_line(line)


@given(
    st.dictionaries(
        st.sampled_from(["v", "sequence", "mac", "at", "key", "sig", "x"]),
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats()
        | st.text(max_size=90)
        | st.lists(st.integers(), max_size=2),
    )
)
def test_any_json_object_is_a_checkpoint_or_malformed_input(body: dict[str, object]) -> None:
    line = json.dumps({**json.loads(make_checkpoint(SIGNER, 1, "ab" * 32, NOW).to_line()), **body})
    with contextlib.suppress(MalformedInput, AuditChainBroken):
        Checkpoint.from_line(line).verify(PUBLIC)
