"""``/metrics`` answers the host itself and the networks of ``metrics_from``, direct scrapes
only; everyone else gets the 404 of an unknown page.

OWASP ASVS 5.0 V13.4.5 (documentation and monitoring endpoints are not exposed publicly),
V13.4.2 (no debug or operational information to the public).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from securebox_auth.errors import ConfigurationError
from securebox_server.settings import Settings, load_settings
from tests.server.conftest import TOKEN, AppMaker

PRIVATE = "10.1.2.3"
INTERNET = "203.0.113.9"


def _from(client: TestClient, peer: str) -> TestClient:
    return TestClient(client.app, client=(peer, 50000), raise_server_exceptions=False)


def _status(client: TestClient, peer: str, **headers: str) -> int:
    status: int = _from(client, peer).get("/metrics", headers=headers).status_code
    return status


def test_the_host_reads_the_metrics_and_the_internet_does_not(make_app: AppMaker) -> None:
    client, _, _ = make_app()
    assert _status(client, "127.0.0.1") == 200
    assert _status(client, "::1") == 200
    assert _status(client, INTERNET) == 404
    assert _status(client, PRIVATE) == 404
    browser = _from(client, INTERNET)
    refused = browser.get("/metrics").text.replace("/metrics", "/PATH")
    unknown = browser.get("/no-such-page").text.replace("/no-such-page", "/PATH")
    assert TOKEN.sub("", refused) == TOKEN.sub("", unknown)  # nothing says it exists


def test_a_proxy_on_the_host_does_not_open_the_metrics(make_app: AppMaker) -> None:
    """nginx on the same host forwards every Internet client from 127.0.0.1."""
    client, _, _ = make_app()
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        value = f"for={INTERNET}" if header == "Forwarded" else INTERNET
        assert _status(client, "127.0.0.1", **{header: value}) == 404, header


def test_a_trusted_proxy_counts_its_client(make_app: AppMaker) -> None:
    client, _, _ = make_app(trusted_proxies=("127.0.0.1",), metrics_from=("10.0.0.0/8",))
    assert _status(client, "127.0.0.1", **{"X-Forwarded-For": PRIVATE}) == 200
    assert _status(client, "127.0.0.1", **{"X-Forwarded-For": INTERNET}) == 404
    assert _status(client, "127.0.0.1") == 404  # the host is no longer listed
    assert _status(client, PRIVATE) == 200


def test_metrics_from_is_validated_and_read_from_the_environment() -> None:
    with pytest.raises(ConfigurationError, match="metrics_from"):
        Settings(demo=True, metrics_from=("not an address",))
    loaded = load_settings({"SECUREBOX_METRICS_FROM": "10.0.0.0/8, ::1", "SECUREBOX_DEMO": "1"})
    assert loaded.metrics_from == ("10.0.0.0/8", "::1")
    assert load_settings({"SECUREBOX_DEMO": "1"}).metrics_from == ("127.0.0.1", "::1")
