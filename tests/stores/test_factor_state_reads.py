"""The reads of factor states by principal agree on every store, whatever the history of
writes, deletions (tombstones) and drops (ADR 0069: the key freed): the memory store's
index of live items by principal and kind (it no longer scans every state of every
principal) against a SQLite store's rows and a plain model."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from securebox_auth.identity import Principal
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import AuthStore, DropFactorState, PutFactorState, Versioned
from tests.stores.conftest import AUDIT_KEY, scratch_sqlite_store

PRINCIPALS = (Principal.parse("123456789", "01"), Principal.parse("987654321", "01"))
KINDS = ("totp", "passkeys", "step_up_flow")
ITEMS = ("b", "B", "a", "é", "z-2", "z-10", "default")

DROP = "drop"
# One write: which record, and a document (None deletes it, DROP drops it).
History = list[tuple[Principal, str, str, dict[str, int] | str | None]]
writes = st.lists(
    st.tuples(
        st.sampled_from(PRINCIPALS),
        st.sampled_from(KINDS),
        st.sampled_from(ITEMS),
        st.one_of(st.none(), st.just(DROP), st.integers(0, 9).map(lambda n: {"n": n})),
    ),
    max_size=40,
)


def _apply(store: AuthStore, history: History) -> None:
    versions: dict[tuple[Principal, str, str], int] = {}
    live: set[tuple[Principal, str, str]] = set()
    for principal, kind, item, document in history:
        key = (principal, kind, item)
        version = versions.get(key, 0)
        if document == DROP:
            if key in live:  # a drop of a live record frees its key: versions start again
                store.commit([DropFactorState(principal, kind, item, version)], [])
                del versions[key]
                live.discard(key)
            continue
        if document is None and version == 0:
            continue  # nothing stored: nothing to delete
        # A deleted record keeps its version (a tombstone): the next write goes on top of it.
        assert not isinstance(document, str)
        store.commit([PutFactorState(principal, kind, item, version, document)], [])
        versions[key] = version + 1
        if document is None:
            live.discard(key)
        else:
            live.add(key)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=writes, asked=st.lists(st.sampled_from(KINDS), unique=True))
def test_reads_by_principal_agree_with_a_sql_store_and_the_model(
    sqlite_template: Path,
    history: History,
    asked: list[str],
) -> None:
    memory = MemoryStore(audit_key=AUDIT_KEY)
    with scratch_sqlite_store(sqlite_template) as sql:
        _apply(memory, history)
        _apply(sql, history)
        model: dict[tuple[Principal, str, str], dict[str, int] | None] = {}
        for principal, kind, item, document in history:
            model[(principal, kind, item)] = None if isinstance(document, str) else document
        for principal in PRINCIPALS:
            expected = {
                kind: [
                    (item, model[(principal, kind, item)])
                    for item in sorted(ITEMS)
                    if model.get((principal, kind, item)) is not None
                ]
                for kind in asked
            }
            for store in (memory, sql):
                found = store.factor_states_of(principal, asked)
                assert list(found) == asked
                assert {
                    kind: [(item, dict(v.value)) for item, v in states]
                    for kind, states in found.items()
                } == expected
                for kind in KINDS:
                    assert (
                        store.factor_states(principal, kind)
                        == (store.factor_states_of(principal, [kind])[kind])
                    )
                    for item, value in store.factor_states(principal, kind):
                        assert isinstance(value, Versioned)
                        assert store.get_factor_state(principal, kind, item) == value
