"""schemathesis over the box's routes, each with a caller that gets past authentication (a
sender's token, a receiver's, a user's session): no 5xx, and every answer as the OpenAPI
document says (status, content type, body schema). The default run draws a few examples
per operation; ``SECUREBOX_API_EXAMPLES=200 -m slow`` the deep one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from securebox_server.box.samples import sample_pdf
from tests.server.api.box_app import (  # noqa: F401 (fixtures, found by name)
    BoxApi,
    build_app,
    close,
    server_sqlite_url,
    sqlite_template,
)
from tests.server.api.test_openapi import CHECKS
from tests.server.box.conftest import C1, C2, COLLABORATOR, SENDER, make_world
from tests.server.clients.helpers import register_receiver, register_sender

#: The publication's ``file`` part as bytes, whatever was generated: schemathesis has no
#: serializer of its own for ``application/pdf`` (its deep run stopped at a non-bytes value).
schemathesis.serializer.alias("application/pdf", "application/octet-stream")


@pytest.fixture
def box_setup(server_sqlite_url: str, tmp_path: Path) -> Iterator[Any]:  # noqa: F811
    """The schema of the box's routes and, per path prefix, a caller's headers."""
    del tmp_path
    world = make_world(server_sqlite_url)
    client, settings = build_app(world, server_sqlite_url)
    with client:
        sender = register_sender(client, SENDER)
        c1 = register_receiver(client, world.box, [C1], subscription="123456789")
        api = BoxApi(client, world, sender, c1, c1, settings)
        for n, company in enumerate((C1, C2)):
            body = sample_pdf(title="Payslip", lines=[str(n)], seed=n)
            assert api.publish(f"seed-{n}", body, companies=[company.value]).status_code == 201
        headers = {
            "/api/v1/sender": api.token(sender),
            "/api/v1/receiver": api.token(c1),
            "/api/v1/documents": api.user_token(COLLABORATOR),
        }
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
        if "SECUREBOX_API_EXAMPLES" not in os.environ:
            schema.config.phases.update(phases=["examples", "fuzzing"])
        yield schema, headers
    close(client)
    world.documents.engine.dispose()


def _run(case: schemathesis.Case[Any], headers: dict[str, dict[str, str]]) -> None:
    path = case.operation.path
    given = next(h for prefix, h in headers.items() if path.startswith(prefix))
    case.call_and_validate(headers={**dict(case.headers or {}), **given}, checks=CHECKS)


@pytest.fixture
def box_schema(box_setup: Any) -> Any:
    return box_setup[0]


schema = schemathesis.pytest.from_fixture("box_schema").include(
    path_regex="^/api/v1/(sender|receiver|documents)"
)


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_box_api_conforms(case: schemathesis.Case[Any], box_setup: Any) -> None:
    _run(case, box_setup[1])


@pytest.mark.slow
@pytest.mark.skipif(
    "SECUREBOX_API_EXAMPLES" not in os.environ, reason="set SECUREBOX_API_EXAMPLES=200"
)
@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("SECUREBOX_API_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_box_api_conforms_deeply(case: schemathesis.Case[Any], box_setup: Any) -> None:
    _run(case, box_setup[1])
