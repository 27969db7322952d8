"""``/api/v1/admin/users`` through the real app: the list, the RFC 9470 challenge without a
recent step-up, the changes once the session holds one, problems for what is refused or
missing, and never the new code in an answer (it reaches the user's mailbox)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from securebox_auth.entitlements.accounts import AccountStatus, Role
from securebox_auth.identity import ClientId, Principal
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.db.schema import (
    BOX_NOTIFICATIONS,
    BOX_VISITS,
    PROFILE_PREFERENCES,
    STEPUP_PAYEES,
)
from securebox_server.profile.history import page_of
from tests.server.admin.conftest import CODE_IN, PROFILE, AdminWorld, Build
from tests.server.conftest import CLIENT
from tests.server.stepup.conftest import ORIGIN

API = "/api/v1/admin"
IBAN = "FR7630006000011234567890189"
SIREN = "552100554"
HEADERS = {"Origin": ORIGIN}
NEW = {
    "user_number": "02",
    "profile": PROFILE,
    "role": "user",
    "rights": {
        "companies": "all",
        "documents": {"themes": [], "documents": ["doc-1"]},
        "operations": ["view"],
    },
    "channel": "email",
}


def _stepped_up(world: AdminWorld) -> None:
    """A step-up proven in the web session (the API answers with the same cookie)."""
    world.login()
    assert world.approve(world.post("/admin/delivery", {"digital": "no"})).status_code == 200


def test_without_a_step_up_a_change_is_a_challenge(admin_world: Build) -> None:
    world = admin_world()
    world.login()
    listing = world.client.get(f"{API}/users")
    assert listing.status_code == 200
    assert [u["user"] for u in listing.json()["users"]] == [f"{CLIENT}:01"]
    answer = world.client.post(f"{API}/users", json=NEW, headers=HEADERS)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert "insufficient_user_authentication" in answer.headers["www-authenticate"]
    assert answer.json()["step_up"].startswith("/api/v1/step-ups/")
    assert world.box.store.get_account(Principal.parse(CLIENT, "02")) is None


def test_with_a_step_up_the_changes_run_and_the_code_goes_to_the_user(admin_world: Build) -> None:
    world = admin_world()
    _stepped_up(world)
    added = world.client.post(f"{API}/users", json=NEW, headers=HEADERS)
    assert added.status_code == 201, added.text
    assert added.json() == {"status": "sent_email", "user": f"{CLIENT}:02"}
    (mail,) = world.relay.relay.messages()
    code = CODE_IN.search(mail.get_body().get_content())  # type: ignore[union-attr]
    assert code is not None
    shown = world.client.get(f"{API}/users/02")
    assert shown.json()["status"] == "pending"
    assert shown.json()["profile"]["email"] == PROFILE["email"]
    letter = world.client.post(f"{API}/users/02/code", json={"channel": "letter"}, headers=HEADERS)
    assert letter.json()["status"] == "sent_letter"
    for answer in (added, shown, letter, world.client.get(f"{API}/users")):
        assert code.group(1) not in answer.text
    patch = {
        "profile": PROFILE,
        "role": "access_manager",
        "rights": {"companies": "all", "documents": "total", "operations": ["view"]},
    }
    edited = world.client.patch(f"{API}/users/02", json=patch, headers=HEADERS)
    assert edited.status_code == 200, edited.text
    account = world.box.store.get_account(Principal.parse(CLIENT, "02"))
    assert account is not None
    assert account.value.role is Role.ACCESS_MANAGER
    unblocked = world.client.post(f"{API}/users/02/unblock", headers=HEADERS)
    assert unblocked.status_code == 200
    digital = world.client.put(f"{API}/delivery", json={"digital": True}, headers=HEADERS)
    assert digital.status_code == 200
    sub = world.box.store.get_subscription(ClientId(CLIENT))
    assert sub is not None
    assert sub.value.digital
    removed = world.client.delete(f"{API}/users/02", headers=HEADERS)
    assert removed.status_code == 200
    account = world.box.store.get_account(Principal.parse(CLIENT, "02"))
    assert account is not None
    assert account.value.status is AccountStatus.DISABLED


def test_refusals_and_unknown_users_are_problems(admin_world: Build) -> None:
    world = admin_world()
    world.user("03")
    _stepped_up(world)
    missing = world.client.get(f"{API}/users/99")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert world.client.delete(f"{API}/users/99", headers=HEADERS).status_code == 404
    myself = world.client.delete(f"{API}/users/01", headers=HEADERS)
    assert myself.status_code == 403  # the library: nobody removes themselves
    bad = world.client.post(f"{API}/users", json={**NEW, "role": "principal_user"}, headers=HEADERS)
    assert bad.status_code == 400
    no_phone = {**NEW, "profile": {**PROFILE, "mobile": ""}}
    assert world.client.post(f"{API}/users", json=no_phone, headers=HEADERS).status_code == 400
    half = {"profile": PROFILE, "role": "user"}
    assert world.client.patch(f"{API}/users/03", json=half, headers=HEADERS).status_code == 400
    download_only = {"companies": "all", "documents": "total", "operations": ["download"]}
    refused = world.client.patch(
        f"{API}/users/03",
        json={"profile": PROFILE, "role": "user", "rights": download_only},
        headers=HEADERS,
    )
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "malformed_input"
    assert refused.json()["detail"] == "Operations: download and share are granted with view"


def test_a_collaborator_lists_users_but_changes_nobody_else(admin_world: Build) -> None:
    world = admin_world()
    world.user("02")
    world.user("03")
    world.login(user="03")
    assert len(world.client.get(f"{API}/users").json()["users"]) == 3
    refused = world.client.delete(f"{API}/users/02", headers=HEADERS)
    assert refused.status_code == 403
    other = world.client.patch(f"{API}/users/02", json={"profile": PROFILE}, headers=HEADERS)
    assert other.status_code == 403  # another user's profile alone
    assert (
        world.client.put(f"{API}/delivery", json={"digital": False}, headers=HEADERS).status_code
        == 403
    )


def test_a_removed_user_is_logged_out_of_every_session(admin_world: Build) -> None:
    world = admin_world()
    world.user("03")
    world.login(user="03")
    assert world.client.get("/home").status_code == 200
    leaver = dict(world.client.cookies)
    world.client.cookies.clear()
    _stepped_up(world)
    assert world.client.delete(f"{API}/users/03", headers=HEADERS).status_code == 200
    assert world.client.get("/home").status_code == 200  # the administrator's session lives
    world.client.cookies.clear()
    for name, value in leaver.items():
        world.client.cookies.set(name, value)
    home = world.client.get("/home", follow_redirects=False)
    assert home.status_code == 303
    assert home.headers["location"].startswith("/login")


def test_a_user_sent_a_new_code_is_logged_out_of_every_session(admin_world: Build) -> None:
    """A new code ends the user's sessions (ADR 0070): the old code may be known to someone
    else, whose session must not outlive it; the administrator's own session lives."""
    world = admin_world()
    world.user("03")
    world.login(user="03")
    assert world.client.get("/home").status_code == 200
    holder = dict(world.client.cookies)
    world.client.cookies.clear()
    _stepped_up(world)
    sent = world.client.post(f"{API}/users/03/code", json={"channel": "letter"}, headers=HEADERS)
    assert sent.status_code == 200, sent.text
    assert world.client.get("/home").status_code == 200  # the administrator's session lives
    world.client.cookies.clear()
    for name, value in holder.items():
        world.client.cookies.set(name, value)
    home = world.client.get("/home", follow_redirects=False)
    assert home.status_code == 303
    assert home.headers["location"].startswith("/login")


def test_a_removed_users_number_can_be_given_to_a_new_person(admin_world: Build) -> None:
    """The removal erases what the person enrolled (ADR 0069): the administrator gives the
    number to a new person, whose one-time code reaches their mailbox; the previous
    holder's TOTP is gone from the store."""
    world = admin_world()
    leaver = world.user("03")
    _stepped_up(world)
    assert world.client.delete(f"{API}/users/03", headers=HEADERS).status_code == 200
    assert world.box.store.factor_states(leaver, "totp") == []
    again = world.client.post(f"{API}/users", json={**NEW, "user_number": "03"}, headers=HEADERS)
    assert again.status_code == 201, again.text
    assert again.json() == {"status": "sent_email", "user": f"{CLIENT}:03"}
    (mail,) = world.relay.relay.messages()
    assert CODE_IN.search(mail.get_body().get_content())  # type: ignore[union-attr]
    account = world.box.store.get_account(leaver)
    assert account is not None
    assert account.value.status is AccountStatus.ACTIVE


def test_a_removal_leaves_nothing_of_the_person_to_the_next_holder(admin_world: Build) -> None:
    """What the server keeps of a person goes with their removal, in its commit (ADR 0069):
    preferences, pending contact changes, step-up orders and saved payees, box visits,
    waiting notifications and the addresses they shared documents with. The next holder's
    history shows nothing from before their account."""
    world = admin_world()
    leaver = world.user("03")
    world.login(user="03")
    assert world.client.get("/home").status_code == 200  # a visit, a login in the history
    world.client.cookies.clear()
    who = {"client_id": CLIENT, "user_number": "03"}
    now = world.clock.now()
    engine = create_engine(world.url)
    with engine.begin() as conn:
        conn.execute(
            insert(PROFILE_PREFERENCES).values(
                **who, new_documents="none", language="fr", changed_at=now
            )
        )
        conn.execute(
            insert(STEPUP_PAYEES).values(
                id="p1", principal=leaver.key, name="Supplier", iban=IBAN, order_id="o1",
                created_at=now.isoformat(),
            )
        )  # fmt: skip
        conn.execute(
            insert(BOX_NOTIFICATIONS).values(
                id="s1", **who, document_id="doc-1", kind="share", channel="email",
                company=SIREN, status="pending", attempts=0, next_attempt_at=now, created_at=now,
                address="friend@elsewhere.example", note="for you",
            )
        )  # fmt: skip
    _stepped_up(world)
    assert world.client.delete(f"{API}/users/03", headers=HEADERS).status_code == 200
    with engine.connect() as conn:
        for table in (PROFILE_PREFERENCES, BOX_VISITS):
            assert conn.execute(select(table).filter_by(**who)).all() == [], table.name
        assert conn.execute(select(STEPUP_PAYEES)).all() == []
        share = conn.execute(select(BOX_NOTIFICATIONS).filter_by(id="s1")).one()
        assert (share.status, share.address, share.note) == ("dropped", None, None)
    engine.dispose()
    world.clock.advance(timedelta(minutes=1))
    again = world.client.post(f"{API}/users", json={**NEW, "user_number": "03"}, headers=HEADERS)
    assert again.status_code == 201, again.text
    account = world.box.store.get_account(leaver)
    assert account is not None
    shown = page_of(world.box, leaver, 1).events
    assert shown  # the new person's own events (the address registered for them)
    assert all(e.at >= account.value.created_at for e in shown)
    assert "session.open" not in {e.action for e in shown}  # not the previous holder's login
