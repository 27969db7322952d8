"""An administrator's change commits whole or not at all (issue 18, found by
``tests/server/box/e2e/test_kill_admin.py``: a server killed between the account's commit
and the profile's left an active user without a profile). The database itself refuses the
profile row here (a SQLite trigger: a real fault of the real database, no mock): the user is
then not added at all, and the answer is a problem, never a 500."""

from __future__ import annotations

import sqlalchemy as sa

from securebox_auth.identity import ClientId, Principal
from securebox_auth.stores.sql.engine import create_engine
from tests.server.admin.conftest import Build
from tests.server.admin.test_users_api import API, HEADERS, NEW, _stepped_up
from tests.server.conftest import CLIENT

REFUSE = (
    "CREATE TRIGGER refuse_profiles BEFORE {event} ON admin_user_profiles "
    "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
)


def _refuse(url: str, event: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER IF EXISTS refuse_profiles"))
        if event:
            conn.execute(sa.text(REFUSE.format(event=event)))
    engine.dispose()


def test_a_user_whose_profile_cannot_be_written_is_not_added(admin_world: Build) -> None:
    """ASVS 5.0 V2.3.3 (business logic: a change is applied whole, as one transaction, or
    not at all); ASVS 5.0 V16.5.2 (the server answers a problem, not a crash)."""
    world = admin_world()
    _stepped_up(world)
    _refuse(world.url, "INSERT")
    added = world.client.post(f"{API}/users", json=NEW, headers=HEADERS)
    assert added.status_code not in (200, 201, 500), added.text
    who = Principal.parse(CLIENT, "02")
    assert world.box.store.get_account(who) is None  # before the fix: active, no profile
    sub = world.box.store.get_subscription(ClientId(CLIENT))
    assert sub is not None
    assert who not in sub.value.rights
    assert world.relay.relay.messages() == []  # and no code was sent for it
    _refuse(world.url, "")
    again = world.client.post(f"{API}/users", json=NEW, headers=HEADERS)
    assert again.status_code == 201, again.text


def test_a_removed_user_keeps_account_and_profile_when_the_profile_cannot_go(
    admin_world: Build,
) -> None:
    """ASVS 5.0 V2.3.3: a removal whose profile deletion fails leaves the user as it was
    (active, with rights and profile), never disabled with its personal data left behind."""
    world = admin_world()
    _stepped_up(world)
    assert world.client.post(f"{API}/users", json=NEW, headers=HEADERS).status_code == 201
    _refuse(world.url, "DELETE")
    removed = world.client.delete(f"{API}/users/02", headers=HEADERS)
    assert removed.status_code not in (200, 500), removed.text
    shown = world.client.get(f"{API}/users/02")
    assert shown.status_code == 200, shown.text
    assert shown.json()["profile"] is not None
    _refuse(world.url, "")
    assert world.client.delete(f"{API}/users/02", headers=HEADERS).status_code == 200
