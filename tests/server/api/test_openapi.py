"""The published OpenAPI 3.1 document, and schemathesis against the ASGI app: no 5xx, every
answer conforms to the document (status, content type, body schema, problem details).

The default run draws a few examples per operation (a few seconds); ``-m slow`` runs the
deeper one (``SECUREBOX_API_EXAMPLES``, 200 by default)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import checks

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.shell.keys import DerivedKeys
from securebox_server.app import create_app
from securebox_server.settings import Settings
from securebox_server.wiring import build_securebox
from tests.server.api.helpers import login
from tests.server.conftest import open_user

#: No 5xx, and every answer as documented. Left out: Starlette answers 405 with the ``Allow``
#: of the first route of a path only (GET and DELETE /session are two routes).
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path) -> FastAPI:
    path = tmp_path_factory.mktemp("openapi") / "server.db"
    path.write_bytes(migrated_sqlite.read_bytes())
    settings = Settings(
        database_url=f"sqlite:///{path}",
        public_url="http://testserver",
        demo=True,
        rate_limits_enabled=False,  # schemathesis sends many refused answers from one address
    )
    keys = DerivedKeys.generate()
    box = build_securebox(settings, clock=FixedClock(), argon2=PROFILE_TESTING, keys=keys)
    open_user(box)
    return create_app(settings, securebox=box, keys=keys)


@pytest.fixture(scope="module")
def api_client(api_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(api_app) as client:
        yield client


@pytest.fixture(scope="module")
def api_schema(api_app: FastAPI) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api_app)
    if "SECUREBOX_API_EXAMPLES" not in os.environ:
        # the default run: generated examples only (the coverage phase's hundreds of
        # boundary cases belong to the deep run)
        schema.config.phases.update(phases=["examples", "fuzzing"])
    return schema


def test_the_document_is_openapi_3_1_with_problems(api_app: FastAPI) -> None:
    with TestClient(api_app) as client:
        document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    answers = document["paths"]["/api/v1/login/flows/{flow_id}/answers"]["post"]["responses"]
    assert "application/problem+json" in answers["409"]["content"]
    assert answers["409"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert "422" in answers
    assert "410" in answers


schema = schemathesis.pytest.from_fixture("api_schema")


def _run(case: schemathesis.Case[Any], client: TestClient) -> None:
    # a fresh session per example (an example may end or rotate it)
    headers = {"Authorization": f"Bearer {login(client)}"}
    case.call_and_validate(headers=headers, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case: schemathesis.Case[Any], api_client: TestClient) -> None:
    _run(case, api_client)


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
def test_api_conforms_deeply(case: schemathesis.Case[Any], api_client: TestClient) -> None:
    _run(case, api_client)
