"""Codes by SMS and e-mail as step-up proofs: real delivery on loopback (the webhook and
SMTP fixtures of the method pages), the destination taken from the account, the message
naming what is approved, and a code bound to one operation refused for another."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from securebox_auth.factors.oob import Channel
from securebox_auth.policy.loader import load_policy
from securebox_auth.policy.writer import to_toml
from securebox_server.app import create_app
from securebox_server.delivery import build_gateways
from securebox_server.settings import DEFAULT_POLICY
from tests.server.boxes import build_box
from tests.server.conftest import CODE, open_user, token
from tests.server.methods.conftest import (  # noqa: F401 (fixtures)
    EMAIL,
    PHONE,
    Enrol,
    Mailbox,
    SmsProvider,
    enrol,
    sms_provider,
    smtp_server,
)
from tests.server.stepup.conftest import ORIGIN, World
from tests.server.stepup.test_flows import IBAN, TRANSFER

TARGET = re.compile(r'name="target" value="([^"]*)"')
CEREMONY = re.compile(r'name="ceremony" value="([^"]*)"')
CODES = ("sms_otp", "email_otp", "confidential_code")


def _policy(tmp_path: Path) -> Path:
    """psd2-default whose payee, transfer and cheque-book operations also take codes by SMS
    or e-mail (with the confidential code for the second category)."""
    base = load_policy(DEFAULT_POLICY)
    wanted = {"payee_management", "sepa_instant_transfer", "cheque_book_order"}
    rules = tuple(
        dataclasses.replace(r, methods=tuple(dict.fromkeys((*r.methods, *CODES))))
        if r.name in wanted
        else r
        for r in base.operations
    )
    path = tmp_path / "policy.toml"
    path.write_text(to_toml(dataclasses.replace(base, operations=rules)), encoding="utf-8")
    return path


@pytest.fixture
def oob_world(
    tmp_path: Path,
    stepup_sqlite: Path,
    sms_provider: SmsProvider,  # noqa: F811
    smtp_server: tuple[int, Mailbox],  # noqa: F811
    enrol: Enrol,  # noqa: F811
) -> Iterator[World]:
    port, _ = smtp_server
    smtp_url = f"smtp+plain://127.0.0.1:{port}?from=no-reply@bank.example"
    built = build_box(
        tmp_path,
        stepup_sqlite,
        {"public_url": ORIGIN, "policy": _policy(tmp_path)},
        gateways=build_gateways(smtp_url, sms_provider.url, None),
    )
    box, clock = built.box, built.clock
    principal, _ = open_user(box)
    enrol(box, clock, principal, Channel.SMS, PHONE)
    enrol(box, clock, principal, Channel.EMAIL, EMAIL)
    app = create_app(built.settings, securebox=box, keys=built.keys)
    client = TestClient(app, base_url=ORIGIN, raise_server_exceptions=False)
    client.headers["Accept-Language"] = "en"
    passkey = None
    try:
        yield World(client, box, clock, principal, None, passkey, built.url)  # type: ignore[arg-type]
    finally:
        client.close()


def _send(world: World, order: str, method: str) -> Response:
    page = world.client.get(f"/operations/{order}/proof/{method}")
    assert page.status_code == 200, page.text
    found = TARGET.search(page.text)
    assert found is not None
    sent: Response = world.client.post(
        f"/operations/{order}/proof/{method}/send",
        data={"target": found.group(1), "csrf_token": token(page.text)},
    )
    return sent


def _answer(world: World, order: str, method: str, html: str, code: str) -> Response:
    ceremony = CEREMONY.search(html)
    target = TARGET.search(html)
    assert ceremony is not None
    assert target is not None
    done: Response = world.client.post(
        f"/operations/{order}/proof/{method}",
        data={
            "ceremony": ceremony.group(1),
            "target": target.group(1),
            "code": code,
            "csrf_token": token(html),
        },
        follow_redirects=False,
    )
    return done


def _finish(world: World, order: str) -> None:
    """The second category when the code alone is not enough, then the execution."""
    approval = world.client.get(f"/operations/{order}")
    if "/execute" not in approval.text:
        assert world.prove(order, "confidential_code", code=CODE).status_code == 303
    done = world.execute(order)
    assert done.status_code == 200, done.text


def test_a_transfer_approved_by_a_code_by_sms(
    oob_world: World,
    sms_provider: SmsProvider,  # noqa: F811
) -> None:
    world = oob_world
    world.login()
    order, page = world.enter("/transfers/new", TRANSFER)
    assert f"/operations/{order}/proof/sms_otp" in page.text
    assert f"/operations/{order}/proof/email_otp" in page.text
    form = world.client.get(f"/operations/{order}/proof/sms_otp").text
    assert "+33 6 •• •• •• 42" in form
    assert PHONE not in form
    sent = _send(world, order, "sms_otp")
    assert sent.status_code == 200, sent.text
    assert "A code was sent to +33 6 •• •• •• 42" in sent.text
    ((_, body),) = sms_provider.received
    assert body["to"] == PHONE
    assert "amount 1250.50 EUR" in body["text"]  # dynamic linking: the library's message
    assert f"payee IBAN:{IBAN}" in body["text"]
    done = _answer(world, order, "sms_otp", sent.text, sms_provider.last_code(PHONE))
    assert done.status_code == 303, done.text
    _finish(world, order)
    assert "Done" in world.client.get("/orders").text


def test_a_payee_approved_by_a_code_by_sms(
    oob_world: World,
    sms_provider: SmsProvider,  # noqa: F811
) -> None:
    world = oob_world
    world.login()
    order, page = world.enter("/payees/new", {"name": "Dupont SARL", "iban": IBAN})
    assert page.status_code == 200, page.text
    sent = _send(world, order, "sms_otp")
    assert sent.status_code == 200, sent.text
    ((_, body),) = sms_provider.received
    assert f"IBAN:{IBAN}" in body["text"]  # dynamic linking
    done = _answer(world, order, "sms_otp", sent.text, sms_provider.last_code(PHONE))
    assert done.status_code == 303, done.text
    _finish(world, order)
    assert [p.name for p in world.book().payees(world.principal)] == ["Dupont SARL"]


def test_a_cheque_book_order_proved_by_a_code_by_e_mail(
    oob_world: World,
    smtp_server: tuple[int, Mailbox],  # noqa: F811
) -> None:
    _, mailbox = smtp_server
    world = oob_world
    world.login()
    data = {"account": "12345678901", "books": "1", "delivery": "branch"}
    order, page = world.enter("/cheque-books/new", data)
    assert f"/operations/{order}/proof/email_otp" in page.text
    sent = _send(world, order, "email_otp")
    assert sent.status_code == 200, sent.text
    assert "c•••@e•••.com" in sent.text
    assert EMAIL not in sent.text
    (envelope,) = mailbox.received
    assert envelope.rcpt_tos == [EMAIL]
    done = _answer(world, order, "email_otp", sent.text, mailbox.last_code(EMAIL))
    assert done.status_code == 303, done.text
    # A cheque-book order asks for fresh proofs, not single-use ones: the session's fresh
    # code login and the e-mail code together complete it, with no other proof.
    approval = world.client.get(f"/operations/{order}")
    assert f"/operations/{order}/execute" in approval.text, approval.text
    executed = world.execute(order)
    assert executed.status_code == 200, executed.text


def test_an_e_mail_code_does_not_link_a_payee(
    oob_world: World,
    smtp_server: tuple[int, Mailbox],  # noqa: F811
) -> None:
    """An e-mail code has no dynamic linking (the library's method table): with the
    confidential code it still does not approve a payee; an SMS code then does."""
    _, mailbox = smtp_server
    world = oob_world
    world.login()
    order, _ = world.enter("/payees/new", {"name": "Dupont SARL", "iban": IBAN})
    sent = _send(world, order, "email_otp")
    assert (
        _answer(world, order, "email_otp", sent.text, mailbox.last_code(EMAIL)).status_code == 303
    )
    assert world.prove(order, "confidential_code", code=CODE).status_code == 303
    approval = world.client.get(f"/operations/{order}")
    assert "/execute" not in approval.text
    assert f"/operations/{order}/proof/sms_otp" in approval.text
    assert world.book().payees(world.principal) == []


def test_a_code_sent_for_another_operation_is_refused(
    oob_world: World,
    sms_provider: SmsProvider,  # noqa: F811
) -> None:
    world = oob_world
    world.login()
    first, _ = world.enter("/transfers/new", TRANSFER)
    sent = _send(world, first, "sms_otp")
    assert sent.status_code == 200, sent.text
    code = sms_provider.last_code(PHONE)
    world.clock.advance(timedelta(minutes=1))
    second, _ = world.enter("/transfers/new", {**TRANSFER, "amount": "9999.00"})
    form = world.client.get(f"/operations/{second}/proof/sms_otp").text
    assert "/send" in form
    refused = _answer(world, second, "sms_otp", sent.text, code)  # first's challenge
    assert refused.status_code == 401, refused.text
    assert "/execute" not in world.client.get(f"/operations/{second}").text


def test_a_wrong_code_is_refused_and_the_form_kept(
    oob_world: World,
    sms_provider: SmsProvider,  # noqa: F811
) -> None:
    world = oob_world
    world.login()
    order, _ = world.enter("/transfers/new", TRANSFER)
    sent = _send(world, order, "sms_otp")
    right = sms_provider.last_code(PHONE)
    wrong = "000000" if right != "000000" else "111111"
    refused = _answer(world, order, "sms_otp", sent.text, wrong)
    assert refused.status_code == 401, refused.text
    assert "The proof was refused" in refused.text
    assert CEREMONY.search(refused.text) is not None  # the same code may be typed again
    done = _answer(world, order, "sms_otp", refused.text, right)
    assert done.status_code == 303, done.text
