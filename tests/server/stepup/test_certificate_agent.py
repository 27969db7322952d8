"""A certificate step-up through the real signing agent in front of a SoftHSM2 token: the
proof page's ``data-challenge`` (bound to the transfer's digest, audience the portal's
origin, which the agent checks) is what the agent signs after the PIN, and its answer
posted as ``static/js/certificate.js`` does approves the transfer.

The token and agent fixtures are those of ``tests/cards`` (they skip without softhsm2 or
python-pkcs11, and fail in CI)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.shell.answers import CertificateSettings
from securebox_auth.stores import factor_codecs as fc
from securebox_server.app import create_app
from tests.cards.agent_support import ORIGIN, Agent, b64decode, start_agent
from tests.cards.test_pkcs11_softhsm import LABEL, PIN, SOFTHSM_MODULE, Token, token
from tests.server.boxes import build_box
from tests.server.conftest import open_user
from tests.server.conftest import token as csrf
from tests.server.stepup.conftest import World
from tests.server.stepup.test_flows import TRANSFER

__all__ = ["token"]

pytestmark = pytest.mark.slow  # a SoftHSM2 token and the agent process (~2 s)

FORM = re.compile(r'<form method="post" action="/operations/[^"]+/proof/certificate" ([^>]*)>')
CEREMONY = re.compile(r'name="ceremony" value="([^"]*)"')


@pytest.fixture(scope="module")
def agent(token: Token) -> Iterator[Agent]:
    running = start_agent(["--module", str(SOFTHSM_MODULE), "--token", LABEL])
    yield running
    assert PIN not in running.stop()


@pytest.fixture
def agent_world(token: Token, tmp_path: Path, stepup_sqlite: Path) -> Iterator[World]:
    built = build_box(
        tmp_path,
        stepup_sqlite,
        {"public_url": ORIGIN},
        issuer=ORIGIN,
        certificates=CertificateSettings(token.trust, token.revocation),
    )
    box = built.box
    clock: FixedClock = built.clock
    clock.at = token.pki.now
    principal, _ = open_user(box)
    credential = fc.cert_credential_to_dict(token.credential)
    box.factors.put_state(principal, fc.CERTIFICATE, "default", credential)
    app = create_app(built.settings, securebox=box, keys=built.keys)
    client = TestClient(app, base_url=ORIGIN, raise_server_exceptions=False)
    client.headers["Accept-Language"] = "en"
    try:
        yield World(client, box, clock, principal, None, None, built.url)  # type: ignore[arg-type]
    finally:
        client.close()


def test_the_agent_signs_the_transfer_challenge(agent: Agent, agent_world: World) -> None:
    world = agent_world
    world.login()
    order, _ = world.enter("/transfers/new", TRANSFER)
    page = world.client.get(f"/operations/{order}/proof/certificate")
    assert page.status_code == 200, page.text
    found, ceremony = FORM.search(page.text), CEREMONY.search(page.text)
    assert found is not None
    assert ceremony is not None
    data = {k: html.unescape(v) for k, v in re.findall(r'([a-z-]+)="([^"]*)"', found.group(1))}
    assert '<script src="/static/js/certificate.js" defer></script>' in page.text
    agent.pin(PIN)
    status, answer = agent.sign(b64decode(data["data-challenge"]))  # Origin: ORIGIN
    assert status == 200, answer
    done = world.client.post(
        f"/operations/{order}/proof/certificate",
        data={
            "ceremony": ceremony.group(1),
            "signature": str(answer["signature"]),
            "certificate": str(answer["certificate"]),
            "csrf_token": csrf(page.text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    result = world.execute(order)
    assert result.status_code == 200, result.text
    assert "1250.50 EUR" in result.text
