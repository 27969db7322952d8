"""The profile's tables on SQLite and PostgreSQL (both migrated to the head): preferences
upserted with their audit event, pending contact changes superseded, found only by their
owner, used once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth.factors.oob import Channel
from securebox_auth.stores.sql.store import SqlStore
from securebox_server.profile.model import CHANGE_TTL, NewDocuments, Preferences
from securebox_server.profile.store import ProfileStore
from tests.entitlements.world import ADMIN, PU
from tests.server.jobs.conftest import World


@pytest.fixture
def store(world: World) -> ProfileStore:
    """The jobs tests' database (SQLite, PostgreSQL) with subscription A."""
    assert isinstance(world.box.store, SqlStore)
    return ProfileStore(world.box.store)


def test_preferences_are_upserted_and_audited(world: World, store: ProfileStore) -> None:
    assert store.preferences(PU) == Preferences()
    store.set_preferences(PU, Preferences(NewDocuments.SMS, "en"), world.clock.now())
    store.set_preferences(PU, Preferences(NewDocuments.NONE, "en"), world.clock.now())
    assert store.preferences(PU) == Preferences(NewDocuments.NONE, "en")
    assert store.preferences(ADMIN) == Preferences()
    actions = [s.event.action for s in world.box.audit_log(PU.client_id.value)]
    assert actions.count("profile.preferences") == 2


def test_a_pending_change_is_superseded_owned_and_used_once(
    world: World, store: ProfileStore
) -> None:
    now = world.clock.now()
    first = store.open_change(PU, Channel.EMAIL, "k1.ref", "challenge1", now)
    second = store.open_change(PU, Channel.EMAIL, "k1.ref2", "challenge2", now)
    sms = store.open_change(PU, Channel.SMS, "k1.ref3", "challenge3", now)
    older = store.change(PU, first)
    assert older is not None
    assert older.status == "superseded"
    assert not older.usable(now)
    newer = store.change(PU, second)
    assert newer is not None
    assert newer.usable(now)
    assert not newer.usable(now + CHANGE_TTL)
    assert store.change(ADMIN, second) is None  # another user's is never found
    assert store.change(PU, "x" * 40) is None
    assert store.complete(second)
    assert not store.complete(second)  # once
    found = store.change(PU, sms)
    assert found is not None
    assert found.usable(now + timedelta(minutes=1))
