"""API clients on the real ``securebox serve --workers 3`` (PostgreSQL): a token through the
real endpoint with the system clock, and one assertion sent to every worker at once gives
exactly one token (single use of ``jti`` across processes)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from securebox_auth.stores.sql.store import SqlStore
from securebox_server.clients.endpoint import JWT_BEARER
from securebox_server.clients.service import TOKEN_PATH, ApiClients
from securebox_server.clients.store import ClientStore
from tests.server.clients.helpers import Registered, assertion, new_key
from tests.server.live.conftest import LiveServer

pytestmark = pytest.mark.slow


def _sender(live: LiveServer) -> tuple[Registered, str]:
    store = live.box.store
    assert isinstance(store, SqlStore)
    origin = live.public_url.rstrip("/")
    clients = ApiClients(
        ClientStore(store.engine),
        live.box.clock,
        origin=origin,
        token_lifetime=timedelta(minutes=10),
    )
    key, jwks = new_key("ES256")
    made = clients.add_sender("live-bank", "Live back office", jwks=jwks)
    return Registered(made, key, "ES256", jwks["keys"][0]["kid"]), clients.token_url


def _form(signed: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": signed,
    }


def test_a_sender_gets_a_token(live: LiveServer) -> None:
    sender, url = _sender(live)
    with live.browser() as browser:
        answer = browser.post(
            TOKEN_PATH, data=_form(assertion(sender, audience=url, now=time.time()))
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["token_type"] == "Bearer"
        wrong = browser.post(
            TOKEN_PATH, data=_form(assertion(sender, audience="https://elsewhere", now=time.time()))
        )
        assert wrong.status_code == 401


def test_one_assertion_gives_one_token_across_workers(live: LiveServer) -> None:
    sender, url = _sender(live)
    signed = assertion(sender, audience=url, now=time.time())
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def send() -> None:
        with live.browser() as browser:
            barrier.wait()
            statuses.append(browser.post(TOKEN_PATH, data=_form(signed)).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [200] + [401] * 5
