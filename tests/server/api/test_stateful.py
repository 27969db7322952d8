"""schemathesis' state machine over the published OpenAPI links (``api/links.py``): a login
flow's id feeds its reads, challenges and answers; a step-up's id its own; a document's id
(published, listed, in the feed) its metadata, body, mark-read and withdrawal; a page's
``next`` the next page. Every answer of every step passes the stateless tests' ``CHECKS``
(no 5xx, status, content type and body as documented), and each run must have followed
links with real ids (an operation reached through a link answered 200/201/204: a made-up
id answers 404 or 410), so a document whose links lead nowhere fails.

The default run is a few short scenarios (seconds); ``-m slow`` with
``SECUREBOX_STATEFUL_EXAMPLES`` (scenarios, 100 by default) runs the deep one."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis.generation.stateful.state_machine import APIStateMachine, StepInput, StepOutput

from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.totp import code_at
from securebox_server.box.samples import sample_pdf
from tests.server.api.box_app import server_sqlite_url, sqlite_template  # noqa: F401 (fixtures)
from tests.server.api.helpers import bearer, login
from tests.server.api.test_box_openapi import box_setup  # noqa: F401 (a fixture)
from tests.server.api.test_openapi import CHECKS, api_app  # noqa: F401 (a fixture)
from tests.server.box.conftest import C1
from tests.server.conftest import CLIENT, open_user

#: Scenarios of the deep run (``-m slow``).
DEEP = int(os.environ.get("SECUREBOX_STATEFUL_EXAMPLES", "100"))
#: The operations a link reached with a real id, and how they answered.
Reached = Counter[tuple[str, int]]
#: Per operation, what makes a case one the server accepts (the first call of a scenario and
#: every other one after it: the rest stay generated), so that links start from real ids:
#: it edits the case and gives extra arguments of the call.
Realistic = dict[str, Callable[[schemathesis.Case[Any]], dict[str, Any]]]


def _machine(
    schema: schemathesis.BaseSchema,
    headers: Callable[[str], dict[str, str]],
    reached: Reached,
    realistic: Realistic,
) -> type[APIStateMachine]:
    """The schema's state machine: ``headers(path)`` authenticates each call; ``reached``
    counts the steps a link fed, by target operation and status."""
    base = schema.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            self.headers = headers
            self.calls: Counter[str] = Counter()
            self.extra: dict[str, Any] = {}

        def before_call(self, case: schemathesis.Case[Any]) -> None:
            label = case.operation.label
            real = label in realistic and self.calls[label] % 2 == 0
            self.extra = realistic[label](case) if real else {}
            self.calls[label] += 1

        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
            headers = {**dict(case.headers or {}), **self.headers(case.path)}
            return {"headers": headers, **self.extra}

        def step(self, input: StepInput) -> StepOutput:
            output: StepOutput = super().step(input)
            if input.transition is not None and input.is_applied:
                reached[(input.case.operation.label, output.response.status_code)] += 1
            return output

        def validate_response(
            self,
            response: Any,
            case: schemathesis.Case[Any],
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            del additional_checks
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    return Machine


#: Scenarios per Hypothesis run (each run a fresh tree of choices).
BATCH = 20
#: Runs added at most when a short run ended before its links were followed.
EXTRA_RUNS = 5


def _run(
    machine: type[APIStateMachine],
    examples: int,
    steps: int,
    until: Callable[[], bool] = lambda: True,
) -> None:
    """``examples`` scenarios, in runs of :data:`BATCH`. The server's state outlives a
    scenario (documents read, withdrawn, published), so a later scenario may draw
    differently where an earlier one drew the same choices: Hypothesis then stops the run
    with :class:`FlakyStrategyDefinition`, not a finding (a failing check raises its own
    error, never shrunk: generation only), and the next run goes on. Since such a stop can
    end a short run early, up to :data:`EXTRA_RUNS` more runs go on until ``until()`` (the
    test's proof that links were followed) holds."""
    left, extra = examples, EXTRA_RUNS
    while left > 0 or (not until() and extra > 0):
        if left <= 0:
            extra -= 1
        batch = min(left, BATCH) if left > 0 else min(examples, BATCH)
        left -= batch
        with contextlib.suppress(FlakyStrategyDefinition):
            machine.run(
                settings=settings(
                    max_examples=batch,
                    stateful_step_count=steps,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    database=None,
                    phases=[Phase.generate],
                )
            )


def _succeeded(reached: Reached, label: str) -> int:
    return sum(n for (op, status), n in reached.items() if op == label and status < 300)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer.removeprefix("#/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def test_every_reference_and_link_of_the_document_resolves(api_app: FastAPI) -> None:  # noqa: F811
    """ASVS 5.0 V4.1.1 (the API's document is what the server does): every ``$ref`` and
    every link's ``operationRef`` names something of the document. The senders' multipart
    body named ``#/components/schemas/PublishMetadata``, which no route registered:
    schemathesis skipped the body (the stateless run never sent one, the state machine
    could not start at a publication)."""
    document = api_app.openapi()
    refs = list(_refs(document))
    assert refs
    dangling = [r for r in refs if _resolve(document, r) is None]
    assert not dangling, dangling
    links = [
        link
        for item in document["paths"].values()
        for operation in item.values()
        for answer in operation.get("responses", {}).values()
        for link in answer.get("links", {}).values()
    ]
    assert len(links) > 20
    missing = [x["operationRef"] for x in links if _resolve(document, x["operationRef"]) is None]
    assert not missing, missing


# -- the auth API: login flows, step-ups ------------------------------------------------


def _body(body: dict[str, Any]) -> Callable[[schemathesis.Case[Any]], dict[str, Any]]:
    def make(case: schemathesis.Case[Any]) -> dict[str, Any]:
        case.body = body
        return {}

    return make


AUTH_REALISTIC: Realistic = {
    "POST /api/v1/login/flows": _body({"client_id": CLIENT, "user_number": "01"}),
}


@pytest.fixture
def auth_machine(api_app: FastAPI) -> Any:  # noqa: F811
    """The login flows' machine (no session needed). Alone: with the step-ups in the same
    machine, schemathesis would start scenarios at ``POST /step-ups`` only (it takes
    ``client_id`` for a reference to a resource no operation creates)."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api_app).include(
        path_regex="^/api/v1/login/flows"
    )
    reached: Reached = Counter()
    return _machine(schema, lambda path: {}, reached, AUTH_REALISTIC), reached, "login/flows"


def _auth(auth_machine: Any, examples: int, steps: int) -> Reached:
    machine, flows = auth_machine[0], auth_machine[2]
    reached: Reached = auth_machine[1]
    read = f"GET /api/v1/{flows}/{{flow_id}}"
    answers = f"POST /api/v1/{flows}/{{flow_id}}/answers"

    def followed() -> bool:
        return _succeeded(reached, read) > 0 and any(op == answers for (op, _) in reached)

    _run(machine, examples, steps, until=followed)
    assert _succeeded(reached, read) > 0, reached
    answered = {s for (op, s) in reached if op == answers}
    assert answered, reached
    return reached


def test_api_stateful(auth_machine: Any) -> None:
    """ASVS 5.0 V4.1.1/V4.3 (API responses as documented, no server error) with the state a
    flow carries: a login flow's id, as the link gives it, is read back (200, not 410) and
    answered; every step conforms to the document (PSD2 RTS Art. 4: the SCA flow)."""
    _auth(auth_machine, examples=8, steps=6)


STEP_UP: Realistic = {
    "POST /api/v1/step-ups": _body({"operation": "cheque_book_order", "details": {}}),
}


@pytest.fixture
def step_up_machine(api_app: FastAPI) -> Iterator[Any]:  # noqa: F811
    """The step-ups' machine: each scenario is a new subscription's user with TOTP (so the
    policy offers a step-up, and the wrong answers of one scenario lock no other out),
    logged in with code and TOTP."""
    box = api_app.state.server.box
    clock = box.clock.wall  # the FixedClock under the server's clock that never goes back
    subscriptions = itertools.count(200000001)
    tokens: list[str] = []
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api_app).include(
        path_regex="^/api/v1/step-ups"
    )
    reached: Reached = Counter()
    machine = _machine(schema, lambda path: bearer(tokens[-1]), reached, STEP_UP)

    class PerScenario(machine):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            super().setup()
            subscription = f"{next(subscriptions):09d}"
            principal, _ = open_user(box, client_id=subscription)
            totp = box.enrol_first_totp(Operator("back-office"), principal)
            assert box.confirm_totp(principal, code_at(totp.credential, clock.now()))
            clock.advance(timedelta(seconds=30))
            tokens.append(login(client, totp.credential, clock, client_id=subscription))

    with TestClient(api_app) as client:
        yield PerScenario, reached, "step-ups"


def test_step_up_api_stateful(step_up_machine: Any) -> None:
    """ASVS 5.0 V4.1.1/V4.3, PSD2 RTS Art. 4 and Art. 5 (dynamic linking: the step-up is
    bound to its operation): a step-up's id, as its link gives it, is read back (200) and
    answered; every step conforms to the document."""
    _auth(step_up_machine, examples=6, steps=6)


@pytest.mark.slow
@pytest.mark.skipif(
    "SECUREBOX_STATEFUL_EXAMPLES" not in os.environ, reason="set SECUREBOX_STATEFUL_EXAMPLES=100"
)
def test_step_up_api_stateful_deeply(step_up_machine: Any) -> None:
    """ASVS 5.0 V4.1.1/V4.3, PSD2 RTS Art. 4 and 5: longer step-up scenarios."""
    _auth(step_up_machine, examples=DEEP, steps=12)


@pytest.mark.slow
@pytest.mark.skipif(
    "SECUREBOX_STATEFUL_EXAMPLES" not in os.environ, reason="set SECUREBOX_STATEFUL_EXAMPLES=100"
)
def test_api_stateful_deeply(auth_machine: Any) -> None:
    """ASVS 5.0 V4.1.1/V4.3, PSD2 RTS Art. 4: longer login scenarios."""
    _auth(auth_machine, examples=DEEP, steps=12)


# -- the box API: senders, receivers, users' documents -------------------------------


PUBLISH = "POST /api/v1/sender/documents"


def _publish(case: schemathesis.Case[Any]) -> dict[str, Any]:
    """A real PDF for company C1 under a fresh Idempotency-Key. The parts go as the call's
    ``files``: schemathesis sends a file part without a file name, which the server reads
    as a text field (refused: 400)."""
    n = next(_KEYS)
    metadata = {
        "type": "payslip",
        "label": "Payslip",
        "issued_at": "2026-01-01T00:00:00+00:00",
        "companies": [C1.value],
    }
    pdf = sample_pdf(title="Payslip", lines=[f"stateful {n}"], seed=n)
    body: Any = {"metadata": json.dumps(metadata), "file": pdf}
    headers: Any = {**dict(case.headers or {}), "Idempotency-Key": f"stateful-{n}"}
    case.body, case.headers = body, headers
    files = {
        "metadata": (None, body["metadata"], "application/json"),
        "file": ("payslip.pdf", pdf, "application/pdf"),
    }
    return {"files": files, "data": None}


_KEYS = itertools.count(100)


@pytest.fixture
def box_machine(box_setup: Any) -> Any:  # noqa: F811
    schema, by_prefix = box_setup
    schema.config.phases.update(phases=["stateful"])  # the fixture's are the stateless run's
    schema.config.phases.stateful.inference.algorithms = []  # the published links only
    schema = schema.include(path_regex="^/api/v1/(sender|receiver|documents)")
    reached: Reached = Counter()

    def headers(path: str) -> dict[str, str]:
        return next(h for prefix, h in by_prefix.items() if path.startswith(prefix))

    return _machine(schema, headers, reached, {PUBLISH: _publish}), reached


def _box(box_machine: Any, examples: int, steps: int) -> Reached:
    machine = box_machine[0]
    reached: Reached = box_machine[1]

    def followed() -> bool:
        return any(s < 300 and "{document_id}" in op for (op, s) in reached)

    _run(machine, examples, steps, until=followed)
    return reached


def test_box_api_stateful(box_machine: Any) -> None:
    """ASVS 5.0 V4.1.1/V4.3 and V8.2.2 (documents through the ids the API itself gave: the
    receiver's list and feed lead to the document, its body and its mark-read, answered
    as documented; no server error on any step)."""
    reached = _box(box_machine, examples=8, steps=6)
    read = [op for (op, s) in reached if s < 300 and op.startswith(("GET", "POST"))]
    assert [op for op in read if "{document_id}" in op], reached


@pytest.mark.slow
@pytest.mark.skipif(
    "SECUREBOX_STATEFUL_EXAMPLES" not in os.environ, reason="set SECUREBOX_STATEFUL_EXAMPLES=100"
)
def test_box_api_stateful_deeply(box_machine: Any) -> None:
    """ASVS 5.0 V4.1.1/V4.3, V8.2.2: longer scenarios over the box's links."""
    reached = _box(box_machine, examples=DEEP, steps=12)
    assert _succeeded(reached, "GET /api/v1/receiver/documents/{document_id}") > 0, reached
    assert _succeeded(reached, "GET /api/v1/documents/{document_id}") > 0, reached
