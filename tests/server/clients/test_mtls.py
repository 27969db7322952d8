"""``tls_client_auth`` (RFC 8705) through the forwarded-certificate path: the certificate is
believed only from a trusted proxy, matched by its SHA-256 thumbprint, and the token is
bound to it (``cnf.x5t#S256``) on every API call."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from securebox_server.clients.keys import thumbprint
from securebox_server.clients.service import TOKEN_PATH
from tests.server.clients.helpers import bearer, clients_of, forwarded, self_signed
from tests.server.clients.test_caller import router
from tests.server.conftest import AppMaker

PROXY = "10.0.0.2"


def _through(client: TestClient, peer: str = PROXY) -> TestClient:
    return TestClient(
        client.app, base_url=str(client.base_url), raise_server_exceptions=False, client=(peer, 1)
    )


def _token(client: TestClient, client_id: str, headers: dict[str, str], **form: str) -> Any:
    body = {"grant_type": "client_credentials", "client_id": client_id, **form}
    return client.post(TOKEN_PATH, data=body, headers=headers)


def test_a_certificate_gets_a_bound_token(make_app: AppMaker) -> None:
    app, _, _ = make_app(trusted_proxies=(PROXY,))
    app.app.include_router(router)  # type: ignore[attr-defined]
    client = _through(app)
    certificate, pem = self_signed("bank")
    sender = clients_of(app).add_sender("bank", "Back office", certificate_pem=pem)
    assert sender.certificate_sha256 == thumbprint(certificate)
    answer = _token(client, sender.client_id, forwarded(pem))
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    whoami = "/api/v1/test-clients/whoami"
    assert client.get(whoami, headers={**bearer(token), **forwarded(pem)}).status_code == 200
    # without the certificate, or with another one, the bound token is refused
    assert client.get(whoami, headers=bearer(token)).status_code == 401
    other = self_signed("bank")[1]
    assert client.get(whoami, headers={**bearer(token), **forwarded(other)}).status_code == 401
    # the same header from a peer that is not the proxy is ignored
    direct = _through(app, "192.0.2.7")
    assert direct.get(whoami, headers={**bearer(token), **forwarded(pem)}).status_code == 401
    assert clients_of(app).authenticate(token, thumbprint(certificate)).bound_to


def test_refusals_read_the_same(make_app: AppMaker) -> None:
    app, _, _ = make_app(trusted_proxies=(PROXY,))
    client = _through(app)
    pem = self_signed("bank")[1]
    sender = clients_of(app).add_sender("bank", "Back office", certificate_pem=pem)
    other = self_signed("other")[1]
    answers = [
        _token(client, sender.client_id, forwarded(other)),  # another certificate
        _token(client, sender.client_id, {}),  # no certificate
        _token(_through(app, "192.0.2.7"), sender.client_id, forwarded(pem)),  # untrusted peer
        _token(client, "snd_nobody", forwarded(pem)),  # unknown client
        _token(client, sender.client_id, {"X-SSL-Client-Cert": "garbage"}),  # a broken header
    ]
    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "invalid_client"
    clients_of(app).revoke(sender.client_id)
    assert _token(client, sender.client_id, forwarded(pem)).status_code == 401


def test_a_jwks_client_cannot_use_a_certificate_it_does_not_have(make_app: AppMaker) -> None:
    from tests.server.clients.helpers import register_sender  # noqa: PLC0415

    app, _, _ = make_app(trusted_proxies=(PROXY,))
    sender = register_sender(app)
    pem = self_signed("bank")[1]
    answer = _token(_through(app), sender.client_id, forwarded(pem))
    assert answer.json()["error"] == "invalid_client"
