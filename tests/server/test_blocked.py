"""The "blocked until" page is the same for a known and an unknown user."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.server.conftest import AppMaker, identify, open_user, submit_code


def _fail_until_blocked(client: TestClient, user: str) -> tuple[int, str]:
    identify(client, user=user)
    for _ in range(10):
        answer = submit_code(client, "11111111")
        if answer.status_code != 401:
            return answer.status_code, answer.text
    raise AssertionError("never blocked")


def test_blocked_page_is_identical_for_known_and_unknown_users(make_app: AppMaker) -> None:
    client, box, _ = make_app()
    open_user(box)
    known = _fail_until_blocked(client, "01")
    client.cookies.clear()
    unknown = _fail_until_blocked(client, "07")
    assert known[0] == unknown[0] == 403
    strip = re.compile(r'name="csrf_token" value="[0-9a-f]+"')
    assert strip.sub("", known[1]) == strip.sub("", unknown[1])
    assert "blocked" in known[1].lower() or "bloqué" in known[1]


def test_blocked_page_says_until_when(make_app: AppMaker) -> None:
    client, box, clock = make_app()
    open_user(box)
    _, body = _fail_until_blocked(client, "01")
    block = box.policy.lockout.temporary_block
    assert block is not None
    until = (clock.now() + block).strftime("%Y-%m-%d %H:%M")
    assert until in body
