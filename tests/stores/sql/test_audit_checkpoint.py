"""The audit chain of a SQL store against its two attacks of issue 11, on SQLite and
PostgreSQL: a tail cut consistently (events and head row) verifies against the database's
own head, but not against an external checkpoint; and the indexed ``at`` column, once outside
the MAC, can no longer be edited unseen. Also: a chain rewritten by someone holding the audit
key, and the ``securebox audit`` commands."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text

from securebox_auth.audit import AuditChainBroken, AuditEvent, SealedEvent, seal, verify_chain
from securebox_auth.cli import main
from securebox_auth.clock import FixedClock
from securebox_auth.shell.audit_checkpoint import (
    FileCheckpoints,
    take_checkpoint,
    verify_against_checkpoints,
)
from securebox_auth.stores.sql import codec
from securebox_auth.stores.sql.engine import DATABASE_URL_ENV, create_engine
from securebox_auth.stores.sql.schema import AUDIT_EVENTS
from securebox_auth.stores.sql.store import SqlStore
from tests.stores.conftest import AUDIT_KEY
from tests.support import NOW

SIGNER = Ed25519PrivateKey.generate()


def _event(n: int) -> AuditEvent:
    return AuditEvent.make(
        NOW + timedelta(seconds=n), "login.code", actor="a", subject="s", outcome="failure"
    )


def _fill(store: SqlStore, first: int, count: int) -> None:
    for n in range(first, first + count):
        store.commit([], [_event(n)])


def _cut_tail(engine: Engine, keep: int) -> None:
    """What someone with write access to the database does: delete the last events and move
    the head row back to the last one kept, consistently."""
    with engine.begin() as conn:
        mac = conn.execute(
            text("SELECT mac FROM audit_events WHERE sequence = :s"), {"s": keep}
        ).scalar_one()
        conn.execute(text("DELETE FROM audit_events WHERE sequence > :s"), {"s": keep})
        conn.execute(
            text("UPDATE audit_chains SET sequence = :s, mac = :m WHERE chain = ''"),
            {"s": keep, "m": mac},
        )


@pytest.fixture
def sql_store(sql_engine: Engine) -> SqlStore:
    return SqlStore(sql_engine, audit_key=AUDIT_KEY)


def test_a_cut_tail_is_seen_only_with_an_external_checkpoint(
    sql_store: SqlStore, tmp_path: Path
) -> None:
    sink = FileCheckpoints(tmp_path / "checkpoints.jsonl")
    clock = FixedClock(NOW)
    _fill(sql_store, 1, 5)
    take_checkpoint(sql_store, sink, SIGNER, clock)
    _fill(sql_store, 6, 5)
    clock.advance(timedelta(minutes=1))
    take_checkpoint(sql_store, sink, SIGNER, clock)
    assert [c.sequence for c in sink.checkpoints()] == [5, 10]
    public = SIGNER.public_key()
    assert verify_against_checkpoints(AUDIT_KEY, sql_store.audit_log(), sink.checkpoints(), public)

    _cut_tail(sql_store.engine, keep=7)
    # the defect: the database's own head moved with the cut, so the chain still verifies
    events = list(sql_store.audit_log())
    assert verify_chain(AUDIT_KEY, events, expected_head=sql_store.audit_head()[1]) == 7
    with pytest.raises(AuditChainBroken, match="tail was removed"):
        verify_against_checkpoints(AUDIT_KEY, events, sink.checkpoints(), public)


def test_a_chain_rewritten_with_the_audit_key_fails_below_a_checkpoint(
    sql_store: SqlStore, tmp_path: Path
) -> None:
    sink = FileCheckpoints(tmp_path / "checkpoints.jsonl")
    _fill(sql_store, 1, 4)
    take_checkpoint(sql_store, sink, SIGNER, FixedClock(NOW))
    # an insider with the audit key re-seals events 3 and 4 with another outcome
    events = list(sql_store.audit_log())
    forged: list[SealedEvent] = events[:2]
    for sealed in events[2:]:
        event = AuditEvent.make(
            sealed.event.at, "login.code", actor="a", subject="s", outcome="success"
        )
        forged.append(seal(AUDIT_KEY, forged[-1], event))
    with sql_store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE sequence > 2"))
        conn.execute(AUDIT_EVENTS.insert(), [codec.event_row(s) for s in forged[2:]])
        conn.execute(
            text("UPDATE audit_chains SET sequence = 4, mac = :m WHERE chain = ''"),
            {"m": forged[-1].mac},
        )
    rewritten = list(sql_store.audit_log())
    assert verify_chain(AUDIT_KEY, rewritten, expected_head=sql_store.audit_head()[1]) == 4
    with pytest.raises(AuditChainBroken, match="rewritten"):
        verify_against_checkpoints(AUDIT_KEY, rewritten, sink.checkpoints(), SIGNER.public_key())


def test_editing_the_indexed_time_of_an_event_breaks_the_chain(sql_store: SqlStore) -> None:
    """``at`` (indexed, used by queries and retention) was outside the MAC: moving an event
    to another day left the chain verifying."""
    _fill(sql_store, 1, 3)
    with sql_store.engine.begin() as conn:
        conn.execute(
            AUDIT_EVENTS.update()
            .where(AUDIT_EVENTS.c.sequence == 2)
            .values(at=NOW - timedelta(days=30))
        )
    with pytest.raises(AuditChainBroken, match="indexed time") as broken:
        verify_chain(AUDIT_KEY, sql_store.audit_log(), expected_head=sql_store.audit_head()[1])
    assert broken.value.sequence == 2


@pytest.mark.parametrize(
    ("column", "value"),
    [
        # the same instant, another spelling
        ("at_text", (NOW + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
        ("details", "[ ]"),  # the same pairs, another text
        ("details", "{}"),
        ("outcome", "success"),
        ("previous", "1" * 64),
    ],
)
def test_every_column_is_covered(sql_store: SqlStore, column: str, value: str) -> None:
    _fill(sql_store, 1, 3)
    with sql_store.engine.begin() as conn:
        conn.execute(
            AUDIT_EVENTS.update().where(AUDIT_EVENTS.c.sequence == 2).values(**{column: value})
        )
    with pytest.raises(AuditChainBroken):
        verify_chain(AUDIT_KEY, sql_store.audit_log())


def test_the_audit_commands(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, sqlite_url)
    monkeypatch.setenv("SECUREBOX_AUDIT_KEY", AUDIT_KEY.hex())
    signing, public, points = (str(tmp_path / n) for n in ("k.pem", "p.pem", "c.jsonl"))
    assert main(["audit", "keygen", "--signing-key", signing, "--public-key", public]) == 0
    engine = create_engine(sqlite_url)
    try:
        _fill(SqlStore(engine, audit_key=AUDIT_KEY), 1, 6)
        checkpoint = ["audit", "checkpoint", "--checkpoint", points, "--signing-key", signing]
        verify = ["audit", "verify", "--checkpoint", points, "--public-key", public]
        assert main(verify) == 1  # no checkpoint file yet: nothing proves the tail
        assert "NOT verified: no checkpoint" in capsys.readouterr().out
        assert main(checkpoint) == 0
        assert "checkpoint: global chain, event 6" in capsys.readouterr().out
        assert main(verify) == 0
        assert "verified: 6 events in 1 chains; 1 checkpoints hold" in capsys.readouterr().out
        _cut_tail(engine, keep=4)
        assert main(verify) == 1
        assert "BROKEN" in capsys.readouterr().out
        # a key of another purpose, or another signer, is refused
        assert main([*verify[:-1], signing]) == 2
        other = str(tmp_path / "other.pem")
        main(["audit", "keygen", "--signing-key", str(tmp_path / "o.pem"), "--public-key", other])
        capsys.readouterr()
        assert main([*verify[:-1], other]) == 1
        assert "another key" in capsys.readouterr().out
    finally:
        engine.dispose()
