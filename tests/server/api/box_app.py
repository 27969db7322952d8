"""The box's APIs through the real app, on the box tests' world (SQLite and PostgreSQL):
:func:`box_api` gives a :class:`BoxApi` with the app's ``TestClient``, the world (a
subscription with companies C1 and C2, users, a sender with ``payslip`` and
``tax-notice``), a sender's API client and receivers for C1 and for C2, registered
through the real clients service and holding tokens from the real token endpoint.

Import the fixtures into a test module::

    from tests.server.api.box_app import *  # noqa: F403 (fixtures)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.identity import Principal
from securebox_auth.shell.keys import DerivedKeys
from securebox_server.app import create_app
from securebox_server.box.samples import sample_pdf
from securebox_server.db.schema import METADATA
from securebox_server.settings import Settings
from securebox_server.throttle import RateLimits
from tests.server.api.helpers import answer, start
from tests.server.box.conftest import C1, C2, CLIENT, SENDER, World, box_url, make_world
from tests.server.clients.helpers import (
    Registered,
    bearer,
    get_token,
    register_receiver,
    register_sender,
)
from tests.server.conftest import CODE
from tests.server.rate_limits.conftest import server_postgres_url, server_sqlite_url
from tests.stores.conftest import empty_postgresql, postgres_admin_url, sqlite_template

__all__ = [
    "PUBLISH",
    "BoxApi",
    "box_api",
    "box_url",
    "empty_postgresql",
    "postgres_admin_url",
    "server_postgres_url",
    "server_sqlite_url",
    "sqlite_template",
]

PUBLISH = "/api/v1/sender/documents"
RECEIVER_SCOPES = "events:read documents:read documents:mark-read"


def pdf(seed: int, title: str = "Payslip") -> bytes:
    """A real PDF (the upload checks pass), different for each ``seed``."""
    return sample_pdf(title=title, lines=[f"Reference {seed}"], seed=seed)


@dataclass
class BoxApi:
    client: TestClient
    world: World
    sender: Registered
    #: Receivers of company C1 and of company C2 (the same subscription).
    receiver_c1: Registered
    receiver_c2: Registered
    settings: Settings

    def token(self, who: Registered, scope: str | None = None) -> dict[str, str]:
        return bearer(get_token(self.client, who, scope=scope))

    def publish(
        self,
        key: str,
        body: bytes,
        *,
        companies: list[str] | None = None,
        type_: str = "payslip",
        label: str = "Payslip",
        issued_at: datetime | None = None,
        filename: str = "payslip.pdf",
        headers: dict[str, str] | None = None,
        client: TestClient | None = None,
    ) -> Response:
        metadata = {
            "type": type_,
            "label": label,
            "issued_at": (issued_at or self.world.clock.now() - timedelta(days=1)).isoformat(),
            "companies": companies if companies is not None else [C1.value],
        }
        sent = {"Idempotency-Key": key, **(self.token(self.sender) if headers is None else headers)}
        answer: Response = (client or self.client).post(
            PUBLISH,
            headers=sent,
            files={
                "metadata": (None, json.dumps(metadata), "application/json"),
                "file": (filename, body, "application/pdf"),
            },
        )
        return answer

    def counts(self) -> dict[str, int]:
        """Rows of every box table (what a refused request must leave unchanged)."""
        engine = self.world.documents.engine
        with engine.connect() as conn:
            return {
                name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in METADATA.tables.items()
                if name.startswith("box_") and name != "box_document_types"
            }

    def user_token(self, principal: Principal) -> dict[str, str]:
        """A bearer session of ``principal`` (given a code first) through the login API."""
        box = self.world.box
        letter = box.codes.regenerate_code(Operator("back-office"), principal)
        self.world.clock.advance(timedelta(milliseconds=1))  # it ended the sessions until now
        number = principal.user_number.value
        assert box.codes.change_code(CLIENT.value, number, letter.reveal(), CODE).changed
        box.store.commit([box.factors.renewal_change(principal, "web", box.clock.now())], [])
        flow = start(self.client, CLIENT.value, number)
        done = answer(self.client, flow, method="confidential_code", code=CODE)
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "done", done.text
        return bearer(done.json()["session"]["token"])


def build_app(
    world: World, url: str, limits: RateLimits | None = None, *, blob_store: str = "database"
) -> tuple[TestClient, Settings]:
    """The app on the world's database (``limits``: the rate limits, else none; bodies
    where ``blob_store`` says, as the setting)."""
    settings = Settings(
        database_url=url,
        public_url="http://testserver",
        demo=True,
        rate_limits_enabled=False,
        blob_store=blob_store,
    )
    keys = DerivedKeys.generate()
    app = create_app(
        settings, securebox=world.box, keys=keys, argon2=PROFILE_TESTING, limits=limits
    )
    return TestClient(app, base_url="http://testserver", raise_server_exceptions=False), settings


def close(client: TestClient) -> None:
    """Dispose of the engine the app opened for itself (the step-up orders')."""
    client.app.state.orders.engine.dispose()  # type: ignore[attr-defined]


@contextmanager
def running_box_api(url: str, *, blob_store: str = "database") -> Iterator[BoxApi]:
    """A :class:`BoxApi` on ``url`` (bodies where ``blob_store`` says, for the app and the
    world alike), closed at the end."""
    folder = None if blob_store == "database" else Path(blob_store.removeprefix("file:"))
    world = make_world(url, folder)
    client, settings = build_app(world, url, blob_store=blob_store)
    try:
        with client:
            sender = register_sender(client, SENDER)
            c1 = register_receiver(
                client, world.box, [C1], subscription=CLIENT.value, name="C1 ERP"
            )
            c2 = register_receiver(
                client, world.box, [C2], subscription=CLIENT.value, name="C2 ERP"
            )
            yield BoxApi(client, world, sender, c1, c2, settings)
    finally:
        close(client)
        world.documents.engine.dispose()


@pytest.fixture
def box_api(box_url: str) -> Iterator[BoxApi]:
    with running_box_api(box_url) as api:
        yield api
