"""``Server.clients`` from the settings: the token lifetime (``api_token_seconds``) and the
token endpoint's audience (the public origin)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth.errors import ConfigurationError
from securebox_server.clients.model import InvalidToken
from securebox_server.settings import Settings, load_settings
from tests.server.clients.helpers import clients_of, register_sender, token_response
from tests.server.conftest import AppMaker


def test_the_lifetime_and_audience_come_from_the_settings(make_app: AppMaker) -> None:
    client, _, clock = make_app(public_url="https://box.example", api_token_seconds=120)
    clients = clients_of(client)
    assert clients.token_url == "https://box.example/api/v1/oauth/token"
    sender = register_sender(client)
    answer = token_response(client, sender, audience=clients.token_url)
    assert answer.json()["expires_in"] == 120
    token = answer.json()["access_token"]
    clock.advance(timedelta(seconds=119))
    assert clients.authenticate(token, None).client_id == sender.client_id
    clock.advance(timedelta(seconds=1))
    with pytest.raises(InvalidToken):
        clients.authenticate(token, None)
    # the old default audience (another origin) is refused
    stale = token_response(client, sender, audience="http://testserver/api/v1/oauth/token")
    assert stale.status_code == 401


def test_the_lifetime_setting_is_checked() -> None:
    for seconds in (0, 59, 3601):
        with pytest.raises(ConfigurationError, match="api_token_seconds"):
            Settings(demo=True, api_token_seconds=seconds)
    env = {"SECUREBOX_DEMO": "true", "SECUREBOX_API_TOKEN_SECONDS": "300"}
    assert load_settings(env).api_token_seconds == 300
    with pytest.raises(ConfigurationError, match="api_token_seconds"):
        load_settings({**env, "SECUREBOX_API_TOKEN_SECONDS": "ten"})
