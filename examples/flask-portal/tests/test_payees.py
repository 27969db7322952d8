"""The same decorator on an operation without an amount: adding a trusted payee is proved
with the reader's Respond key over a challenge bound to the payee (PSD2 RTS arts. 5 and 13),
so the decorator holds no rule of its own operation."""

from __future__ import annotations

from conftest import Browser, World, confirmation, logged_in, shown
from sqlalchemy import select

from flask_portal.models import Payee

NEW = {"payee": "DE89 3704 0044 0532 0130 00"}
CANONICAL = "IBAN:DE89370400440532013000"


def _payees(world: World) -> list[str]:
    with world.portal.db() as db:
        return [p.payee for p in db.scalars(select(Payee))]


def test_a_payee_is_added_once_proved_with_respond(world: World, browser: Browser) -> None:
    logged_in(world, browser)
    assert browser.get("/payees/new").status_code == 200
    page = browser.post("/payees", NEW)
    assert page.status_code == 200
    assert CANONICAL in page.text  # shown before the proof
    assert "<em>Respond</em>" in page.text
    assert "cap-amount" not in page.text  # nothing to type but the digits
    code = world.card.respond(shown(page, "cap-digits"))
    done = browser.post("/payees", confirmation(page, code))
    assert done.status_code == 200, done.text
    assert _payees(world) == [CANONICAL]
    assert f"<li>{CANONICAL}</li>" in browser.get("/accounts").text


def test_another_payee_in_the_confirmation_is_refused(world: World, browser: Browser) -> None:
    logged_in(world, browser)
    page = browser.post("/payees", NEW)
    code = world.card.respond(shown(page, "cap-digits"))
    other = "FR76 3000 6000 0112 3456 7890 189"
    refused = browser.post("/payees", confirmation(page, code, payee=other))
    assert refused.status_code == 409
    assert _payees(world) == []


def test_a_code_for_another_challenge_is_refused(world: World, browser: Browser) -> None:
    logged_in(world, browser)
    page = browser.post("/payees", NEW)
    code = world.card.respond("12345678")  # not the digits the page showed
    again = browser.post("/payees", confirmation(page, code))
    assert again.status_code == 401
    assert _payees(world) == []
