"""The memory store forgets what the SQL store's purge deletes (the same one-time records,
decided by the same ``spent``), so a long-lived memory store does not grow with every
login; and it reads the same afterwards (the live index of factor states included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import Principal
from securebox_auth.policy.session import open_session
from securebox_auth.policy.session_ids import session_key
from securebox_auth.stores.memory import MemoryStore
from securebox_auth.stores.protocols import EndSession, OpenSession, PutFactorState

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
P = Principal.parse("123456789", "01")
IDLE = timedelta(minutes=5)


def _put(store: MemoryStore, kind: str, item: str, state: dict[str, object] | None) -> None:
    store.commit([PutFactorState(P, kind, item, 0, {"x": 1} if state is None else state)], [])
    if state is None:  # a tombstone: written, then deleted
        store.commit([PutFactorState(P, kind, item, 1, None)], [])


def _open(store: MemoryStore, last: datetime, *, ended: bool) -> str:
    opened = OpenSession(open_session(P, "web", ["confidential_code"], last))
    store.commit([opened], [])
    if ended:
        store.commit([EndSession(session_key(opened.session_id), 1)], [])
    return opened.session_id


def test_spent_records_go_and_live_ones_stay() -> None:
    store = MemoryStore()
    past, future = (
        (NOW - timedelta(minutes=1)).isoformat(),
        (NOW + timedelta(minutes=4)).isoformat(),
    )
    _put(store, "oob", "expired-challenge", {"expires_at": past})
    _put(store, "oob", "live-challenge", {"expires_at": future})
    _put(store, "oob", "consumed", None)
    _put(store, "login_flow", "old-flow", {"expires_at": past})
    _put(store, "assertion_jti", "used-jti", {"exp": int(NOW.timestamp()) - 1})
    _put(store, "assertion_jti", "live-jti", {"exp": int(NOW.timestamp()) + 60})
    _put(store, "assertion_grant", "spent-grant", {"exp": int(NOW.timestamp()) - 1})
    _put(store, "totp", "default", {"expires_at": past})  # a credential: never
    _put(store, "oob_destination", "gone", None)  # not a one-time kind: kept
    idle = _open(store, NOW - timedelta(days=2), ended=False)
    ended = _open(store, NOW - timedelta(hours=1), ended=True)
    live = _open(store, NOW - timedelta(minutes=1), ended=False)

    done = store.purge_spent(now=NOW, idle_timeout=IDLE)

    assert (done.sessions, done.one_time) == (2, 5)
    assert store.get_session(live) is not None
    assert store.get_session(idle) is None
    assert store.get_session(ended) is None
    assert [item for item, _ in store.factor_states(P, "oob")] == ["live-challenge"]
    assert store.factor_states_of(P, ("oob", "assertion_jti", "totp")) == {
        "oob": store.factor_states(P, "oob"),
        "assertion_jti": store.factor_states(P, "assertion_jti"),
        "totp": store.factor_states(P, "totp"),
    }
    assert [item for item, _ in store.factor_states(P, "assertion_jti")] == ["live-jti"]
    assert store.factor_states(P, "assertion_grant") == []
    assert store.get_factor_state(P, "totp", "default") is not None
    # a purged tombstone's place can be taken again; a kept one's cannot
    store.commit([PutFactorState(P, "oob", "consumed", 0, {"again": True})], [])
    assert store.purge_spent(now=NOW, idle_timeout=IDLE).one_time == 0


def test_a_purge_forgets_the_records_of_many_logins() -> None:
    store = MemoryStore()
    expired = (NOW - timedelta(minutes=1)).isoformat()
    for n in range(200):
        _put(store, "login_flow", f"flow-{n}", None)
        _put(store, "webauthn_ceremony", f"ceremony-{n}", {"expires_at": expired})
    done = store.purge_spent(now=NOW, idle_timeout=IDLE)
    assert done.one_time == 400
    assert store.factor_states_of(P, ("login_flow", "webauthn_ceremony")) == {
        "login_flow": [],
        "webauthn_ceremony": [],
    }


def test_negative_durations_are_refused() -> None:
    with pytest.raises(MalformedInput):
        MemoryStore().purge_spent(now=NOW, idle_timeout=timedelta(seconds=-1))
