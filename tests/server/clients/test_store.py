"""The clients' tables on SQLite and PostgreSQL: registration, revocation, tokens by digest,
and single use of a ``jti`` under concurrency (threads and processes: exactly one token)."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import timedelta

import pytest

from securebox_auth.errors import MalformedInput
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.clients.model import ClientStatus, InvalidToken, OAuthError
from securebox_server.clients.service import TOKEN_PATH, ApiClients
from securebox_server.clients.store import ClientStore
from securebox_server.clients.tokens import digest
from tests.server.clients.conftest import Parts
from tests.server.clients.helpers import Registered, assertion, new_key

AUDIENCE = "https://box.example" + TOKEN_PATH


def _sender(parts: Parts, alg: str = "ES256") -> Registered:
    key, jwks = new_key(alg)
    made = parts.clients.add_sender("bank", "Back office", jwks=jwks)
    return Registered(made, key, alg, jwks["keys"][0]["kid"])


def test_a_client_round_trips(parts: Parts) -> None:
    sender = _sender(parts)
    found = parts.clients.store.get(sender.client_id)
    assert found == sender.client
    assert sender.client_id in {c.client_id for c in parts.clients.store.all()}
    assert parts.clients.store.get("snd_nobody") is None
    assert parts.clients.store.get("x" * 65) is None


def test_a_token_is_stored_by_its_digest_only(parts: Parts) -> None:
    sender = _sender(parts)
    issued = parts.clients.token_by_assertion(
        sender.client_id, assertion(sender, audience=AUDIENCE, now=parts.clock.now()), None
    )
    with parts.clients.store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT token_sha256 FROM api_tokens").scalars().all()
    assert issued.access_token not in rows
    assert digest(issued.access_token) in rows
    caller = parts.clients.authenticate(issued.access_token, None)
    assert caller.client_id == sender.client_id
    assert caller.expires_at == parts.clock.now() + timedelta(minutes=10)


def test_revocation_deletes_tokens_and_stops_them(parts: Parts) -> None:
    sender = _sender(parts)
    issued = parts.clients.token_by_assertion(
        sender.client_id, assertion(sender, audience=AUDIENCE, now=parts.clock.now()), None
    )
    assert parts.clients.revoke(sender.client_id)
    found = parts.clients.store.get(sender.client_id)
    assert found is not None
    assert found.status is ClientStatus.REVOKED
    assert found.revoked_at == parts.clock.now()
    assert parts.clients.store.token(digest(issued.access_token)) is None
    with pytest.raises(InvalidToken):
        parts.clients.authenticate(issued.access_token, None)
    assert not parts.clients.revoke("snd_nobody")


def test_one_certificate_belongs_to_one_client(parts: Parts) -> None:
    from tests.server.clients.helpers import self_signed  # noqa: PLC0415

    pem = self_signed("bank")[1]
    parts.clients.add_sender("bank", "Back office", certificate_pem=pem)
    with pytest.raises(MalformedInput):
        parts.clients.add_sender("insurer", "Insurer", certificate_pem=pem)


def test_sweep_removes_expired_rows(parts: Parts) -> None:
    sender = _sender(parts)
    parts.clients.token_by_assertion(
        sender.client_id, assertion(sender, audience=AUDIENCE, now=parts.clock.now()), None
    )
    later = parts.clock.now() + timedelta(hours=1)
    assert parts.clients.store.sweep(later) >= 2  # the token and the jti


def _race(url: str, client_id: str, signed: str, results: list[str]) -> None:
    """One request of the race: a token, or the error it met."""
    from securebox_auth.clock import FixedClock  # noqa: PLC0415

    engine = create_engine(url)
    try:
        clients = ApiClients(ClientStore(engine), FixedClock(), origin="https://box.example")
        try:
            clients.token_by_assertion(client_id, signed, None)
            results.append("token")
        except OAuthError as exc:
            results.append(exc.error)
    finally:
        engine.dispose()


def test_a_jti_gives_one_token_across_threads(parts: Parts) -> None:
    sender = _sender(parts)
    signed = assertion(sender, audience=AUDIENCE, now=parts.clock.now())
    results: list[str] = []
    threads = [
        threading.Thread(target=_race, args=(parts.url, sender.client_id, signed, results))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["invalid_client"] * 3 + ["token"]


def _process(url: str, client_id: str, signed: str, queue: multiprocessing.Queue[str]) -> None:
    results: list[str] = []
    _race(url, client_id, signed, results)
    queue.put(results[0])


@pytest.mark.slow
def test_a_jti_gives_one_token_across_processes(parts: Parts) -> None:
    sender = _sender(parts)
    signed = assertion(sender, audience=AUDIENCE, now=parts.clock.now())
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[str] = context.Queue()
    workers = [
        context.Process(target=_process, args=(parts.url, sender.client_id, signed, queue))
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert sorted(queue.get(timeout=5) for _ in workers) == ["invalid_client", "token"]
