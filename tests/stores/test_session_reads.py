"""A session and its principal's end-all watermark read together
(:func:`~securebox_auth.stores.session_reads.read_session`, one statement on a SQL store)
are what the two getters read one after the other, on every store and whatever the history:
sessions opened, ended, rotated; watermarks written, deleted (a tombstone) and dropped; other
principals' records and other factor states beside them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from securebox_auth.identity import Principal
from securebox_auth.policy.session import Proof, Session
from securebox_auth.policy.session_ids import new_session_id, session_key
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import (
    AuthStore,
    Change,
    DropFactorState,
    EndSession,
    OpenSession,
    PutFactorState,
    RotateSession,
)
from securebox_auth.stores.session_reads import SessionReads, read_session
from tests.stores.conftest import AUDIT_KEY, scratch_sqlite_store

PRINCIPALS = (Principal.parse("123456789", "01"), Principal.parse("123456789", "02"))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WATERMARK = ("sessions", "not_before")
OTHER = ("sessions", "other")  # same kind, another item: never read as the watermark


def _session(principal: Principal, minute: int) -> Session:
    at = T0 + timedelta(minutes=minute)
    return Session(principal, "web", at, at, (Proof("confidential_code", at),))


def _by_getters(store: AuthStore, session_id: str) -> SessionReads:
    found = store.get_session(session_id)
    if found is None:
        return SessionReads(None, None)
    return SessionReads(found, store.get_factor_state(found.value.principal, *WATERMARK))


# One step: open a session, end one, rotate one, or write the watermark / the other record
# (a document, None: deleted, "drop": dropped) of a principal.
Step = tuple[str, int, int | str | None]
steps = st.lists(
    st.tuples(
        st.sampled_from(("open", "end", "rotate", "watermark", "other")),
        st.integers(0, len(PRINCIPALS) - 1),
        st.one_of(st.none(), st.just("drop"), st.integers(0, 59)),
    ),
    max_size=25,
)


class History:
    """Applies steps to a store, keeping the identifiers and versions the steps need."""

    def __init__(self, store: AuthStore) -> None:
        self.store = store
        self.ids: list[str] = []
        self.live: dict[str, int] = {}  # live session id -> version
        self.records: dict[tuple[Principal, tuple[str, str]], int] = {}  # -> version
        self.present: set[tuple[Principal, tuple[str, str]]] = set()

    def apply(self, step: Step) -> None:
        what, who, value = step
        principal = PRINCIPALS[who]
        minute = value if isinstance(value, int) else 0
        live = [i for i in self.ids if i in self.live]  # in the order opened
        changes: list[Change] = []
        if what == "open":
            opened = OpenSession(_session(principal, minute))
            changes = [opened]
            self.ids.append(opened.session_id)
            self.live[opened.session_id] = 1
        elif what in ("end", "rotate") and live:
            chosen = live[minute % len(live)]
            version = self.live.pop(chosen)
            if what == "end":
                changes = [EndSession(session_key(chosen), version)]
            else:
                found = self.store.get_session(chosen)
                assert found is not None
                rotated = RotateSession(chosen, version, found.value)
                changes = [rotated]
                self.ids.append(rotated.new_session_id)
                self.live[rotated.new_session_id] = 1
        elif what in ("watermark", "other"):
            record = WATERMARK if what == "watermark" else OTHER
            key = (principal, record)
            version = self.records.get(key, 0)
            if value == "drop":
                if key in self.present:
                    changes = [DropFactorState(principal, *record, version)]
                    del self.records[key]
                    self.present.discard(key)
            elif value is not None or version:
                at = (T0 + timedelta(minutes=minute)).isoformat()
                document = None if value is None else {"at": at}
                changes = [PutFactorState(principal, *record, version, document)]
                self.records[key] = version + 1
                (self.present.add if document else self.present.discard)(key)
        if changes:
            self.store.commit(changes, [])

    def asked(self) -> list[str]:
        """Every identifier seen (live, ended, rotated away), an unknown one and text that
        is not an identifier."""
        return [*self.ids, new_session_id(), "not-a-session-id", ""]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=steps)
def test_a_sql_store_reads_what_the_getters_read(
    sqlite_template: Path, history: list[Step]
) -> None:
    memory = MemoryStore(audit_key=AUDIT_KEY)
    with scratch_sqlite_store(sqlite_template) as sql:
        on_sql, in_memory = History(sql), History(memory)
        for step in history:
            on_sql.apply(step)
            in_memory.apply(step)
        kind, item = WATERMARK
        for asked, twin in zip(on_sql.asked(), in_memory.asked(), strict=True):
            together = sql.read_session(asked, kind=kind, item=item)
            assert together == _by_getters(sql, asked)
            # The memory store reads getter by getter: the same values as on SQL.
            apart = read_session(memory, twin, kind=kind, item=item)
            assert (apart.session is None) == (together.session is None)
            assert apart.state == together.state


def test_every_store_reads_the_session_and_its_own_principals_watermark(
    contract_store: AuthStore,
) -> None:
    store = contract_store
    history = History(store)
    for step in [
        ("open", 0, 1),
        ("open", 1, 2),
        ("watermark", 1, 30),
        ("other", 0, 40),
        ("open", 0, 3),
        ("end", 0, 2),
        ("watermark", 0, None),  # nothing stored: nothing to delete
    ]:
        history.apply(step)
    first, second, third = history.ids
    kind, item = WATERMARK
    read = read_session(store, first, kind=kind, item=item)
    assert read.session is not None
    assert read.session.value.principal == PRINCIPALS[0]
    assert read.state is None  # the other principal's watermark, and another item, unseen
    read = read_session(store, second, kind=kind, item=item)
    assert read.session is not None
    assert read.state is not None
    assert read.state.value == {"at": (T0 + timedelta(minutes=30)).isoformat()}
    assert read_session(store, third, kind=kind, item=item) == SessionReads(None, None)  # ended
    for asked in history.asked():
        assert read_session(store, asked, kind=kind, item=item) == _by_getters(store, asked)
    history.apply(("watermark", 1, None))  # deleted: a tombstone reads as absent
    read = read_session(store, second, kind=kind, item=item)
    assert read.session is not None
    assert read.state is None


@pytest.mark.parametrize("session_id", ["", "x", "'; DROP TABLE sessions; --", "é" * 64])
def test_text_that_is_not_a_session_identifier_reads_nothing(
    contract_store: AuthStore, session_id: str
) -> None:
    kind, item = WATERMARK
    assert read_session(contract_store, session_id, kind=kind, item=item) == SessionReads(
        None, None
    )
