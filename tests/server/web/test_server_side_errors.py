"""A library or server error whose ``status_hint`` is 5xx is answered 503 ``unavailable``
with ``Retry-After``: the error page, or an RFC 9457 problem document under ``/api``;
never a 500, a 400 (the request was fine), a trace or the error's own message. A 4xx
hint is still the status answered.

The errors are the real ones, raised by the real code on routes added to the app for the
test: the SMS gateway posting to a loopback port where nothing listens (502), the
administration's code courier asked for a channel it does not have (503), the audit chain
verified with the wrong key (500)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from securebox_auth.audit import verify_chain
from securebox_auth.audit_keys import AuditKeyring
from securebox_auth.clock import SystemClock
from securebox_auth.errors import ConcurrentUpdate
from securebox_auth.factors.code import OneTimeCode
from securebox_auth.identity import Principal
from securebox_auth.shell.gateways import HttpSmsGateway
from securebox_auth.shell.securebox import Securebox
from securebox_server.admin.codes import CodeChannel, CodeCourier
from securebox_server.web.errors import UNAVAILABLE_RETRY_S
from tests.server.conftest import AppMaker, open_user
from tests.server.web.test_database_errors import _closed_port

WHO = Principal.parse("123456789", "01")


def _routes(app: FastAPI, box: Securebox, port: int) -> dict[str, Callable[[], None]]:
    def gateway() -> None:
        sms = HttpSmsGateway(url=f"http://127.0.0.1:{port}/sms", token="t0k", timeout=2)
        sms.send_text("+33612345678", "hello", reference="r1")

    def courier() -> None:
        CodeCourier({}).deliver(
            OneTimeCode("12345678"), WHO, CodeChannel.SMS, address="+33612345678",
            profile=None, now=SystemClock().now(),
        )  # fmt: skip

    def audit() -> None:
        # the server's key ids, each with a wrong key: a chain that does not verify
        keyring = getattr(box.store, "audit_keys", None)
        assert isinstance(keyring, AuditKeyring)
        order = keyring.order
        wrong = AuditKeyring(dict.fromkeys(order, b"not-the-audit-key-0123456789abcdef"), order)
        verify_chain(wrong, box.audit_log())

    def conflict() -> None:
        raise ConcurrentUpdate("the record at version 7 of table codes changed")

    found = {"gateway": gateway, "courier": courier, "audit": audit, "conflict": conflict}
    for prefix in ("", "/api/v1"):
        for name, route in found.items():
            app.add_api_route(f"{prefix}/test-fault/{name}", route)
    return found


#: what the errors' own messages say, and what a trace would show: never in an answer
_HIDDEN = ("traceback", "webhook", "unreachable", "not configured", "audit chain", "event 1")


@pytest.mark.parametrize(
    ("name", "error", "level"),
    [
        ("gateway", "DeliveryFailed", logging.WARNING),
        ("courier", "Undelivered", logging.WARNING),
        ("audit", "AuditChainBroken", logging.ERROR),
    ],
)
def test_a_server_side_error_is_a_clean_503(
    make_app: AppMaker, caplog: pytest.LogCaptureFixture, name: str, error: str, level: int
) -> None:
    """A 502 (an SMS gateway down), a 503 (no channel to send a code) and a 500 (an audit
    chain that does not verify) are 503 ``unavailable`` with ``Retry-After``, nothing of
    the error shown, logged once by class and code. OWASP ASVS 5.0 V16.5.1 (a generic
    message, no internal detail), V16.5.2 (the application keeps working: try again),
    V16.5.3 (fails securely: no 500)."""
    client, box, _ = make_app()
    open_user(box)  # events in the audit chain
    _routes(client.app, box, _closed_port())  # type: ignore[arg-type]
    for path in (f"/test-fault/{name}", f"/api/v1/test-fault/{name}"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="securebox_server.errors"):
            answer = client.get(path)
        assert answer.status_code == 503, (path, answer.status_code, answer.text)
        assert answer.headers["retry-after"] == str(UNAVAILABLE_RETRY_S)
        lowered = answer.text.lower()
        for word in (*_HIDDEN, error.lower()):
            assert word not in lowered, (path, word)
        if path.startswith("/api/"):
            assert answer.headers["content-type"] == "application/problem+json"
            body = answer.json()
            assert (body["code"], body["status"]) == ("unavailable", 503)
        else:
            assert answer.headers["content-type"].startswith("text/html")
        (record,) = [r for r in caplog.records if r.name == "securebox_server.errors"]
        assert record.levelno == level
        assert error in record.getMessage()
        assert "webhook" not in record.getMessage()  # the class and code, not the text


def test_a_client_side_error_keeps_its_status(make_app: AppMaker) -> None:
    """A 4xx ``status_hint`` (a lost compare-and-swap: 409) is the status answered, with
    the stable code and not the message. OWASP ASVS 5.0 V16.5.1."""
    client, box, _ = make_app()
    _routes(client.app, box, _closed_port())  # type: ignore[arg-type]
    answer = client.get("/api/v1/test-fault/conflict")
    assert answer.status_code == 409
    assert answer.json()["code"] == "conflict"
    assert "version 7" not in answer.text
    page = client.get("/test-fault/conflict")
    assert page.status_code == 409
    assert "version 7" not in page.text
