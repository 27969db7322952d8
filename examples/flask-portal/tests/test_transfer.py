"""The sensitive view: a SEPA instant transfer behind ``@step_up_required``, proved with the
CAP reader's Sign key over a challenge bound to the amount and the payee (PSD2 RTS art. 5:
dynamic linking), run once, recorded in the portal's own table."""

from __future__ import annotations

from datetime import timedelta

from conftest import IBAN, Browser, World, confirmation, field, logged_in, shown
from securebox_auth.lockout.rules import Element
from sqlalchemy import func, select

from flask_portal.models import Transfer

ORDER = {"amount": "1250.50", "payee": "FR76 3000 6000 0112 3456 7890 189"}


def _transfers(world: World) -> list[tuple[int, str]]:
    with world.portal.db() as db:
        return [(t.amount_minor, t.payee) for t in db.scalars(select(Transfer))]


def _cap_failures(world: World) -> int:
    return world.portal.box.store.get_lockout(world.principal).value.series(Element.CAP).failures


def test_a_transfer_shows_what_is_proved_and_runs_once_proved(
    world: World, browser: Browser
) -> None:
    session_id = logged_in(world, browser)
    assert browser.get("/transfers/new").status_code == 200
    page = browser.post("/transfers", ORDER)
    assert page.status_code == 200
    # the user sees the amount and the full payee before signing (RTS art. 5(1)(a))
    assert "1250.50 EUR" in page.text
    assert IBAN in page.text
    assert shown(page, "cap-amount") == "1250.50 EUR"
    digits = shown(page, "cap-digits")
    assert _transfers(world) == []  # nothing runs before the proof
    done = browser.post("/transfers", confirmation(page, world.card.sign(digits, 125050)))
    assert done.status_code == 200, done.text
    assert "1250.50 EUR" in shown(done, "done")
    assert _transfers(world) == [(125050, f"IBAN:{IBAN}")]
    # the step-up rotated the session: the cookie follows, the old identifier is dead
    rotated = browser.cookie()
    assert rotated is not None
    assert rotated != session_id
    accounts = browser.get("/accounts")
    assert accounts.status_code == 200
    assert f"<li>1250.50 EUR to IBAN:{IBAN} (2026-03-02 09:30)</li>" in accounts.text
    stale = Browser(world.app)
    stale.client.set_cookie("portal_session", session_id)
    assert stale.get("/accounts").headers["Location"] == "/login"


def test_a_changed_amount_is_refused_before_any_code_is_checked(
    world: World, browser: Browser
) -> None:
    logged_in(world, browser)
    page = browser.post("/transfers", ORDER)
    digits = shown(page, "cap-digits")
    # the form comes back with another amount, and a code the card made for that amount
    forged = confirmation(page, world.card.sign(digits, 925050), amount="9250.50")
    refused = browser.post("/transfers", forged)
    assert refused.status_code == 409
    assert 'data-code="operation_changed"' in refused.text
    assert _transfers(world) == []
    assert _cap_failures(world) == 0  # nothing was verified


def test_a_code_over_another_amount_is_refused_and_counted(world: World, browser: Browser) -> None:
    logged_in(world, browser)
    page = browser.post("/transfers", ORDER)
    digits = shown(page, "cap-digits")
    # the user (or malware in the browser) typed another amount into the reader
    again = browser.post("/transfers", confirmation(page, world.card.sign(digits, 925050)))
    assert again.status_code == 401
    assert _transfers(world) == []
    assert _cap_failures(world) == 1
    # the refused code spent its challenge: the page shows a new one; the right amount passes
    fresh = shown(again, "cap-digits")
    assert field(again, "cap_challenge") != field(page, "cap_challenge")
    done = browser.post("/transfers", confirmation(again, world.card.sign(fresh, 125050)))
    assert done.status_code == 200
    assert _transfers(world) == [(125050, f"IBAN:{IBAN}")]


def test_a_confirmation_runs_once(world: World, browser: Browser) -> None:
    logged_in(world, browser)
    page = browser.post("/transfers", ORDER)
    confirmed = confirmation(page, world.card.sign(shown(page, "cap-digits"), 125050))
    assert browser.post("/transfers", confirmed).status_code == 200
    replayed = browser.post("/transfers", confirmed)
    assert replayed.status_code == 409
    with world.portal.db() as db:
        assert db.scalar(select(func.count()).select_from(Transfer)) == 1


def test_a_code_only_session_proves_the_transfer_too(world: World, browser: Browser) -> None:
    logged_in(world, browser)
    browser.post("/logout", {})
    world.clock.advance(timedelta(days=30))
    browser.identify()
    browser.code("47120938")
    page = browser.post("/transfers", ORDER)
    assert page.status_code == 200
    code = world.card.sign(shown(page, "cap-digits"), 125050)
    assert browser.post("/transfers", confirmation(page, code)).status_code == 200
    assert len(_transfers(world)) == 1


def test_the_sensitive_view_needs_a_session(world: World) -> None:
    visitor = Browser(world.app)
    page = visitor.post("/transfers", ORDER)
    assert page.status_code == 302
    assert page.headers["Location"] == "/login"
    assert visitor.get("/transfers/new").headers["Location"] == "/login"
    assert _transfers(world) == []


def test_a_bad_order_is_a_page(world: World, browser: Browser) -> None:
    logged_in(world, browser)
    orders: tuple[dict[str, str], ...] = (
        {"amount": "-3", "payee": IBAN},
        {"amount": "12.00", "payee": "nobody"},
        {"amount": "12.00", "payee": IBAN[:-1] + "8"},  # fails its check digits
        {"amount": "12.001", "payee": IBAN},
        {},
    )
    for order in orders:
        page = browser.post("/transfers", order)
        assert page.status_code == 400, order
        assert "Traceback" not in page.text
    page = browser.post("/transfers", {**ORDER, "step_up": "S:garbage"})
    assert page.status_code == 409
