"""Helpers of the API tests: a code (+ TOTP) login through ``/api/v1``."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.factors.totp import code_at
from tests.server.conftest import CLIENT, CODE

ORIGIN = {"Origin": "http://testserver"}


def start(
    client: TestClient,
    client_id: str = CLIENT,
    user: str = "01",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Any:
    answer = client.post(
        "/api/v1/login/flows",
        json={"client_id": client_id, "user_number": user, **extra},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def answer(client: TestClient, flow: dict[str, Any], **body: Any) -> Any:
    return client.post(f"/api/v1/login/flows/{flow['id']}/answers", json=body)


def login(
    client: TestClient,
    credential: Any = None,
    clock: FixedClock | None = None,
    client_id: str = CLIENT,
) -> str:
    """Code, then TOTP when asked; the session token."""
    flow = start(client, client_id)
    after = answer(client, flow, method="confidential_code", code=CODE)
    assert after.status_code == 200, after.text
    body = after.json()
    if body["state"] == "second_factor":
        assert credential is not None
        assert clock is not None
        after = answer(client, body, method="totp", code=code_at(credential, clock.now()))
        assert after.status_code == 200, after.text
        body = after.json()
    assert body["state"] == "done"
    token: str = body["session"]["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
