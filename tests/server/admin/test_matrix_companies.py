"""The authorisation matrix of the administration, generated from the app's route table.

Every route under ``/admin`` and ``/api/v1/admin`` must have a row in :data:`MATRIX` (a new
route without one fails :func:`test_every_admin_route_has_a_row`), and each row says what
every kind of caller gets:

* ``anonymous``; an ``administrator``, an ``access_manager`` and a ``collaborator`` of the
  subscription whose companies and invitations the request names (*own subscription*);
* ``other_admin``: the principal user of *another subscription* (the routes act on the
  caller's own subscription, so they see theirs, never the target's: ``200-own``, checked
  for every caller from outside the subscription, third parties included);
* a third party (a user of another subscription) invited on the target's company,
  ``third_party:pending`` (before acceptance), ``third_party:accepted`` and
  ``third_party:revoked``: an invitation grants view and download, never administration.

Outcomes: an HTTP status, ``401-login`` (no session), ``401-step-up`` (allowed, once a
fresh step-up is proved: ``insufficient_user_authentication``), ``200-own`` (200, and
nothing of the target subscription in the body).

The users' administration (ADR 0038) has its own matrix by role inside the subscription
(``test_matrix.py``): its rows are taken here (:data:`USERS_ROWS`), their request and the
roles it allows, and given the columns that matrix lacks (another subscription, third
parties, anonymous). A new module's routes are added the same way: a row per route with
the request (``path`` with ``{placeholders}`` filled by :data:`VALUES`, ``body``) and the
outcome of each caller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Final

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from securebox_auth.entitlements.accounts import Account, Role
from securebox_auth.entitlements.model import (
    CompanyScope,
    DocumentScope,
    InvitationStatus,
    Operation,
    Rights,
)
from securebox_auth.identity import ClientId, Principal
from securebox_auth.stores.protocols import PutAccount, PutSubscription
from securebox_server.invitations.links import Link
from securebox_server.web.routing import walk
from tests.server.admin.test_matrix import MATRIX as USERS_MATRIX
from tests.server.admin.world import (
    ADMIN,
    BACK_OFFICE,
    C1,
    C2,
    CLIENT,
    COLLABORATOR,
    Admin,
    with_code,
)
from tests.server.box.conftest import who
from tests.server.conftest import token

ACCESS_MANAGER: Final = who(CLIENT, "04")
OTHER_ADMIN: Final = Principal.parse("555555555", "01")
INVITEE: Final = who(ClientId("987654321"), "02")  # the seed's pending invitation
INVITATION: Final = "inv-pending"
ACTORS: Final = (
    "anonymous",
    "administrator",
    "access_manager",
    "collaborator",
    "other_admin",
    "third_party:pending",
    "third_party:accepted",
    "third_party:revoked",
)
#: a plain user of the target subscription (view only), whom administrators may manage
PLAIN: Final = who(CLIENT, "05")
VALUES: Final = {"siren": C1.value, "invitation_id": INVITATION, "user": "05"}
#: what the target subscription's pages show, never shown to another one
SECRETS: Final = ("732 829 320", "732829320", "ACME", "Cabinet")


@dataclass(frozen=True, slots=True)
class Row:
    body: dict[str, Any]
    outcomes: dict[str, str]


def _row(
    admin: str,
    other: str,
    body: dict[str, Any] | None = None,
    anon: str = "",
    members: str = "403",
    third: str = "403",
) -> Row:
    """The administrator's outcome, the other subscription's, ``members`` for the access
    manager and the collaborator of the subscription, ``third`` for every third party;
    anonymous: 303 to the login for a page, 401 else."""
    outcomes = dict.fromkeys(ACTORS, third)
    outcomes |= {"access_manager": members, "collaborator": members}
    outcomes |= {"administrator": admin, "other_admin": other, "anonymous": anon}
    return Row(body or {}, outcomes)


NEW_COMPANY: Final = {"siren": "443061841", "name": "Nova"}
DECLARED: Final = {
    "siren": "552100554",
    "name": "Cabinet Martin",
    "email": "martin@cabinet.example",
    "companies": [C1.value],
    "mobile": "+33612345678",
}
#: (method, path) -> who gets what
MATRIX: Final = {
    # every user of a subscription sees the companies their rights cover (seed 002); a
    # third party sees their own subscription's, never the one that invited them
    ("GET", "/admin/companies"): _row("200", "200-own", anon="303", members="200", third="200-own"),
    ("POST", "/admin/companies"): _row("303", "303", NEW_COMPANY, anon="401-login"),
    ("GET", "/admin/companies/{siren}"): _row("200", "404", anon="303", members="200", third="404"),
    ("GET", "/admin/companies/{siren}/remove"): _row("200", "404", anon="303"),
    ("POST", "/admin/companies/{siren}/remove"): _row("303", "404", anon="401-login"),
    ("GET", "/admin/third-parties"): _row("200", "200-own", anon="303"),
    ("POST", "/admin/third-parties"): _row("303", "400", DECLARED, anon="401-login"),
    ("POST", "/admin/third-parties/{invitation_id}/revoke"): _row("303", "404", anon="401-login"),
    ("GET", "/api/v1/admin/companies"): _row(
        "200", "200-own", anon="401-login", members="200", third="200-own"
    ),
    ("POST", "/api/v1/admin/companies"): _row(
        "401-step-up", "401-step-up", {**NEW_COMPANY, "proof": "AAAA-BBBB-CCCC-DDDD"}, "401-login"
    ),
    ("GET", "/api/v1/admin/companies/{siren}"): _row(
        "200", "404", anon="401-login", members="200", third="404"
    ),
    ("DELETE", "/api/v1/admin/companies/{siren}"): _row("401-step-up", "404", anon="401-login"),
    ("GET", "/api/v1/admin/third-parties"): _row("200", "200-own", anon="401-login"),
    ("POST", "/api/v1/admin/third-parties"): _row("401-step-up", "400", DECLARED, "401-login"),
    ("DELETE", "/api/v1/admin/third-parties/{invitation_id}"): _row(
        "401-step-up", "404", anon="401-login"
    ),
}


def _users_row(method: str, path: str, body: object, allowed: set[str]) -> Row:
    """A row of the users' matrix: its roles inside the subscription; another
    subscription's principal user and the third parties act on their own subscription (a
    page of theirs, or no such user there); anonymous is sent to the login."""
    change = {"GET": "200"}.get(method, "401-step-up" if path.startswith("/api/") else "303")
    own = {
        "administrator": change if "administrator" in allowed else "403",
        "access_manager": change if "access_manager" in allowed else "403",
        "collaborator": change if "collaborator" in allowed else "403",
    }
    outside = OUTSIDE.get((method, path), "404")
    third = THIRD.get((method, path), "404")
    anon = "303" if method == "GET" and not path.startswith("/api/") else "401-login"
    outcomes = {"anonymous": anon, "other_admin": outside, **own}
    outcomes |= {actor: third for actor in ACTORS if actor.startswith("third_party:")}
    return Row(body if isinstance(body, dict) else {}, outcomes)


#: another subscription's principal user on the users' routes that name no user: theirs
OUTSIDE: Final = {
    ("GET", "/admin/users"): "200-own",
    ("GET", "/admin/users/new"): "200-own",
    ("POST", "/admin/users/new"): "303",
    ("GET", "/admin/delivery"): "200-own",
    ("POST", "/admin/delivery"): "303",
    ("GET", "/api/v1/admin/users"): "200-own",
    ("POST", "/api/v1/admin/users"): "401-step-up",
    ("PUT", "/api/v1/admin/delivery"): "401-step-up",
}
#: a third party (a plain user of their own subscription) on the same routes
THIRD: Final = {
    ("GET", "/admin/users"): "200-own",
    ("GET", "/admin/users/new"): "403",
    ("POST", "/admin/users/new"): "403",
    ("GET", "/admin/delivery"): "403",
    ("POST", "/admin/delivery"): "403",
    ("GET", "/api/v1/admin/users"): "200-own",
    ("POST", "/api/v1/admin/users"): "403",
    ("PUT", "/api/v1/admin/delivery"): "403",
}
USERS_ROWS: Final = {
    key: _users_row(*key, body, {r for r in ACTORS if r in roles})
    for key, (body, roles) in USERS_MATRIX.items()
}
MATRIX.update(USERS_ROWS)


def _admin_routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for route in walk(app.routes):
        if not isinstance(route, APIRoute):
            continue
        if not route.path.startswith(("/admin", "/api/v1/admin")):
            continue
        for method in (route.methods or set()) - {"HEAD", "OPTIONS"}:
            found.add((method, route.path))
    return found


@pytest.fixture
def box_url(server_sqlite_url: str) -> str:
    """The matrix runs on SQLite (the tables' behaviour is tested on both elsewhere)."""
    return server_sqlite_url


def _phase(admin: Admin, status: InvitationStatus) -> None:
    """Set the invitee's invitation to ``status`` (what accept or revoke would commit)."""
    store = admin.box.store
    found = store.get_subscription(CLIENT)
    assert found is not None
    invitation = replace(found.value.invitations[INVITATION], status=status)
    changed = found.value.with_invitation(invitation)
    store.commit([PutSubscription(CLIENT, found.version, changed)], [])


@pytest.fixture
def world(admin: Admin) -> Admin:
    """The admin world, with an access manager, another subscription's principal user and
    the link of the seed's pending invitation."""
    box = admin.box
    accounts = [
        Account(ACCESS_MANAGER, Role.ACCESS_MANAGER, box.now()),
        Account(PLAIN, Role.USER, box.now()),
    ]
    box.store.commit([PutAccount(a.principal, 0, a) for a in accounts], [])
    found = box.store.get_subscription(CLIENT)
    assert found is not None
    manager = Rights(
        CompanyScope.portfolio(),
        DocumentScope.all(),
        frozenset({Operation.VIEW, Operation.MANAGE_USERS, Operation.MANAGE_RIGHTS}),
    )
    sub = found.value.with_rights(ACCESS_MANAGER, manager)
    sub = sub.with_rights(PLAIN, Rights(operations=frozenset({Operation.VIEW})))
    box.store.commit([PutSubscription(CLIENT, found.version, sub)], [])
    box.codes.create_subscription(BACK_OFFICE, OTHER_ADMIN)

    for principal in (ACCESS_MANAGER, OTHER_ADMIN, INVITEE):
        with_code(box, principal)
    admin.enrol_totp(OTHER_ADMIN)
    admin.enrol_totp(ACCESS_MANAGER)
    now = box.now()
    link = Link(
        INVITATION,
        CLIENT,
        C2,
        "Cabinet",
        "c@cabinet.example",
        INVITEE,
        False,
        now,
        now + timedelta(days=14),
        None,
    )
    admin.app.state.invitations.links.add(link, "t" * 43)
    return admin


def _caller(world: Admin, actor: str) -> TestClient | None:
    if actor == "anonymous":
        return None
    principal = {
        "administrator": ADMIN,
        "access_manager": ACCESS_MANAGER,
        "collaborator": COLLABORATOR,
        "other_admin": OTHER_ADMIN,
    }.get(actor, INVITEE)
    if actor.startswith("third_party:"):
        phase = actor.partition(":")[2]
        if phase != "pending":
            _phase(world, InvitationStatus.ACCEPTED)
        if phase == "revoked":
            _phase(world, InvitationStatus.REVOKED)
    return world.login(principal)


def _outcome(world: Admin, browser: TestClient | None, method: str, path: str, row: Row) -> str:
    url = path.format(**VALUES)
    api = path.startswith("/api/")
    if browser is None:  # no session (an unknown bearer token on the API)
        client = world.browser()
        if api:
            client.headers["Authorization"] = "Bearer " + "x" * 43
        page = world.browser().get("/login") if api else client.get("/login")
    else:
        client = world.api(browser) if api else browser
        page = browser.get("/home")
    if api:
        answer = client.request(method, url, json=row.body or None)
    else:
        data = {**row.body, "csrf_token": token(page.text)} if method == "POST" else None
        answer = client.request(method, url, data=data, follow_redirects=False)
    status = answer.status_code
    if status == 401:
        code = answer.json()["code"] if api else "not_authenticated"
        return "401-step-up" if code == "insufficient_user_authentication" else "401-login"
    caller = world.users[id(browser)] if browser is not None else None
    if status == 200 and caller is not None and caller.client_id != CLIENT:
        # another subscription's user (its principal user, a third party in any phase):
        # a page of their own, nothing of the subscription named in the request
        assert not any(s in answer.text for s in SECRETS), (method, path)
        return "200-own"
    return str(status)


def test_every_admin_route_has_a_row(admin: Admin) -> None:
    routes = _admin_routes(admin.app)
    assert routes, "no administration route found"
    missing = routes - set(MATRIX)
    assert not missing, f"administration routes without a row in MATRIX: {sorted(missing)}"
    assert not set(MATRIX) - routes, "rows for routes that no longer exist"


def test_a_new_route_without_a_row_is_caught(admin: Admin) -> None:
    def new_thing() -> dict[str, str]:  # pragma: no cover (never called)
        return {}

    admin.app.add_api_route("/admin/new-thing", new_thing, methods=["GET"])
    assert _admin_routes(admin.app) - set(MATRIX) == {("GET", "/admin/new-thing")}


@pytest.mark.parametrize("actor", ACTORS)
def test_the_matrix(world: Admin, actor: str) -> None:
    browser = _caller(world, actor)
    got = {key: _outcome(world, browser, *key, row) for key, row in MATRIX.items()}
    expected = {key: row.outcomes[actor] for key, row in MATRIX.items()}
    wrong = {
        f"{m} {p}": (expected[(m, p)], got[(m, p)])
        for m, p in MATRIX
        if got[(m, p)] != expected[(m, p)]
    }
    assert not wrong, f"{actor}: (expected, got) {wrong}"
