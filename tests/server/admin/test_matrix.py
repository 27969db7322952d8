"""The authorisation matrix of the users' administration, generated from the app's route
table: every route under ``/admin/users``, ``/admin/delivery`` and ``/api/v1/admin/users``,
``/api/v1/admin/delivery``, by every role of the subscription (principal user, administrator,
access manager under the default policy and under its wider reading, collaborator). A route
without an entry fails.

Answers before any proof: ``ok`` is a page (200) or, for a change the library's rules
accept, the start of its step-up (303 to the approval page; ``401`` with the RFC 9470
challenge on the API); ``no`` is 403 (the rules refuse, nothing is asked)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest
from fastapi.routing import APIRoute

from securebox_auth.entitlements.accounts import Role
from securebox_auth.entitlements.model import (
    CompanyScope,
    DocumentScope,
    Operation,
    Rights,
)
from securebox_auth.identity import ClientId, Principal
from securebox_auth.stores.protocols import PutSubscription
from securebox_server.settings import DEFAULT_POLICY
from securebox_server.web.routing import walk
from tests.server.admin.conftest import PROFILE, AdminWorld, Build
from tests.server.conftest import CLIENT, token
from tests.server.stepup.conftest import ORIGIN

PREFIXES: Final = (
    "/admin/users",
    "/admin/delivery",
    "/api/v1/admin/users",
    "/api/v1/admin/delivery",
)
ROLES: Final = ("principal", "administrator", "access_manager", "collaborator")
RIGHTS_BODY: Final = {"companies": "all", "documents": "total", "operations": ["view"]}
FORM: Final = {
    **PROFILE,
    "role": "user",
    "companies": "all",
    "documents": "total",
    "operations": ["view"],
}
NEW_FORM: Final = {**FORM, "user_number": "06", "channel": "letter"}

#: (method, path) -> (request data, the roles that may; others get 403)
P, A, M, C = ROLES
MATRIX: Final = {
    ("GET", "/admin/users"): (None, {P, A, M, C}),
    ("GET", "/admin/users/new"): (None, {P, A, M}),
    ("POST", "/admin/users/new"): (NEW_FORM, {P, A, M}),
    ("GET", "/admin/users/{user}"): (None, {P, A, M, C}),
    ("POST", "/admin/users/{user}"): (FORM, {P, A}),
    ("GET", "/admin/users/{user}/delete"): (None, {P, A, M}),
    ("POST", "/admin/users/{user}/delete"): ({}, {P, A, M}),
    ("POST", "/admin/users/{user}/code"): ({"channel": "letter"}, {P, A}),
    ("POST", "/admin/users/{user}/unblock"): ({}, {P, A}),
    ("GET", "/admin/delivery"): (None, {P, A}),
    ("POST", "/admin/delivery"): ({"digital": "no"}, {P, A}),
    ("GET", "/api/v1/admin/users"): (None, {P, A, M, C}),
    ("POST", "/api/v1/admin/users"): (
        {
            "user_number": "06",
            "profile": PROFILE,
            "role": "user",
            "rights": RIGHTS_BODY,
            "channel": "letter",
        },
        {P, A, M},
    ),
    ("GET", "/api/v1/admin/users/{user}"): (None, {P, A, M, C}),
    ("PATCH", "/api/v1/admin/users/{user}"): (
        {"profile": PROFILE, "role": "user", "rights": RIGHTS_BODY},
        {P, A},
    ),
    ("DELETE", "/api/v1/admin/users/{user}"): (None, {P, A, M}),
    ("POST", "/api/v1/admin/users/{user}/code"): ({"channel": "letter"}, {P, A}),
    ("POST", "/api/v1/admin/users/{user}/unblock"): (None, {P, A}),
    ("PUT", "/api/v1/admin/delivery"): ({"digital": False}, {P, A}),
}
NUMBERS: Final = {
    "principal": "01",
    "administrator": "02",
    "access_manager": "04",
    "collaborator": "03",
}


def _routes(world: AdminWorld) -> set[tuple[str, str]]:
    found = set()
    for route in walk(world.client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.path.startswith(PREFIXES):
            found |= {(method, route.path) for method in route.methods or ()}
    return found


def _world(build: Build, policy: Path | None = None) -> AdminWorld:
    world = build() if policy is None else build(policy=policy)
    world.user("02", Role.ADMINISTRATOR)
    world.user("03")
    world.user("04", Role.ACCESS_MANAGER)
    world.user("05")
    sub = world.box.store.get_subscription(ClientId(CLIENT))
    assert sub is not None
    value = sub.value.with_rights(Principal.parse(CLIENT, "02"), Rights.everything())
    manager = Rights(
        CompanyScope.portfolio(),
        DocumentScope.all(),
        frozenset({Operation.VIEW, Operation.MANAGE_USERS, Operation.MANAGE_RIGHTS}),
    )
    value = value.with_rights(Principal.parse(CLIENT, "04"), manager)
    value = value.with_rights(
        Principal.parse(CLIENT, "05"), Rights(operations=frozenset({Operation.VIEW}))
    )
    world.box.store.commit([PutSubscription(value.client_id, sub.version, value)], [])
    return world


def test_every_route_has_an_entry(admin_world: Build) -> None:
    assert _routes(admin_world()) == set(MATRIX)


def _answer(world: AdminWorld, method: str, path: str, data: object) -> int:
    url = path.replace("{user}", "05")
    if path.startswith("/api/"):
        sent = world.client.request(method, url, json=data, headers={"Origin": ORIGIN})
        return int(sent.status_code)
    if method == "GET":
        return int(world.client.get(url).status_code)
    page = world.client.get("/admin/users")
    assert isinstance(data, dict)
    sent = world.client.post(
        url, data={**data, "csrf_token": token(page.text)}, follow_redirects=False
    )
    if sent.status_code == 303:
        assert sent.headers["location"].startswith("/operations/")
    return int(sent.status_code)


#: what access managers may also do under the policy's wider reading (``[delegation]
#: access_managers_manage_rights_and_codes = true``, the e-Box integration guide): change
#: plain users' rights, regenerate their codes, unblock them
WIDE: Final = frozenset(
    {
        ("POST", "/admin/users/{user}"),
        ("POST", "/admin/users/{user}/code"),
        ("POST", "/admin/users/{user}/unblock"),
        ("PATCH", "/api/v1/admin/users/{user}"),
        ("POST", "/api/v1/admin/users/{user}/code"),
        ("POST", "/api/v1/admin/users/{user}/unblock"),
    }
)


def _wide_policy(folder: Path) -> Path:
    """The shipped policy with the access managers' wider reading."""
    narrow = "access_managers_manage_rights_and_codes = false"
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert narrow in text  # the shipped policy states the narrower reading
    policy = folder / "wide.toml"
    policy.write_text(text.replace(narrow, "access_managers_manage_rights_and_codes = true"))
    return policy


def test_the_wider_reading_adds_only_rights_and_codes() -> None:
    """The rows :data:`WIDE` opens are closed to access managers by default, and no
    other row changes with the switch."""
    assert set(MATRIX) >= WIDE
    assert not any(M in MATRIX[key][1] for key in WIDE)


@pytest.mark.parametrize(
    ("role", "reading"), [(r, "narrow") for r in ROLES] + [("access_manager", "wide")]
)
def test_each_role_gets_what_the_library_allows(
    admin_world: Build, tmp_path: Path, role: str, reading: str
) -> None:
    world = _world(admin_world, _wide_policy(tmp_path) if reading == "wide" else None)
    world.login(user=NUMBERS[role])
    wrong = []
    for (method, path), (data, allowed) in MATRIX.items():
        status = _answer(world, method, path, data)
        if role in allowed or (reading == "wide" and (method, path) in WIDE):
            expected = {"GET": 200}.get(method, 401 if path.startswith("/api/") else 303)
        else:
            expected = 403
        if status != expected:
            wrong.append((method, path, status, expected))
    assert wrong == []
    assert world.box.store.get_account(Principal.parse(CLIENT, "06")) is None  # nothing ran
