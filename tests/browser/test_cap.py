"""The EMV-CAP card reader in the browser, each journey on SQLite and on PostgreSQL: the
90-day prompt (RTS art. 10) completed by an Identify code and by a Respond code over the
challenge the page shows (the demo's virtual reader page in a second tab); a SEPA instant
transfer signed on that page (Sign: the challenge and the amount in cents) and a payment
batch approved by a Respond code over its linked challenge, while a code over a changed
amount or sent with a changed batch is refused and nothing is executed (dynamic linking,
RTS art. 5).

The reader is the user's device: the library's reader emulator on the user's software card
(:mod:`tests.browser.steps_cap`), or the demo's ``/demo/cap-reader`` page. The test reads
the challenge on the page and types the reader's code, like a person."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import OpenTab
from tests.browser.driver import Tab
from tests.browser.journeys import follow, log_in_with_code
from tests.browser.server import CODE, DemoServer
from tests.browser.steps_cap import (
    Card,
    cap_user,
    challenge_shown,
    proof_facts,
    read_virtual_reader,
)

pytestmark = pytest.mark.browser

IBAN = "FR7630006000011234567890189"
OTHER_IBAN = "DE89370400440532013000"
BATCH = [(IBAN, "120.00", "Dupont SARL"), (OTHER_IBAN, "980.45", "Muller GmbH")]


def _prompted(tab: Tab, server: DemoServer) -> Card:
    """A card holder whose last strong login is 91 days old logs in with the code: the
    prompt for strong authentication lists the CAP reader; its page is opened."""
    user, card = cap_user(server, strong_days_ago=91, listed=True)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/login/strong", tab.path
    follow(tab, "/login/cap")
    assert tab.path == "/login/cap", tab.path
    return card


def _refused(tab: Tab) -> None:
    assert tab.page.locator(".error-summary[role=alert]").count() == 1
    assert tab.page.get_attribute("#code", "aria-invalid") == "true"


@pytest.mark.parametrize("on", ["server", "pg_server"])
def test_the_90_day_prompt_completed_by_cap_identify(
    request: pytest.FixtureRequest, open_tab: OpenTab, on: str
) -> None:
    server: DemoServer = request.getfixturevalue(on)
    tab = open_tab(server)
    card = _prompted(tab, server)
    code = card.identify()
    tab.fill("code", code)
    tab.submit("/login/cap")
    assert tab.path == "/home", tab.text()


@pytest.mark.parametrize("on", ["server", "pg_server"])
def test_the_90_day_prompt_completed_by_cap_respond(
    request: pytest.FixtureRequest, open_tab: OpenTab, on: str
) -> None:
    server: DemoServer = request.getfixturevalue(on)
    # the reader page: another device, its own cookies
    tab, reader = open_tab(server), open_tab(server)
    card = _prompted(tab, server)
    follow(tab, "/login/cap/respond")
    digits = challenge_shown(tab)
    # a challenge mistyped into the reader: its code is refused, a new challenge is shown
    mistyped = f"{(int(digits) + 1) % 10**8:08d}"
    tab.fill("code", read_virtual_reader(reader, card, mistyped))
    tab.submit("/login/cap/respond")
    assert tab.path == "/login/cap/respond", tab.path
    _refused(tab)
    digits = challenge_shown(tab)
    tab.fill("code", read_virtual_reader(reader, card, digits))
    tab.submit("/login/cap/respond")
    assert tab.path == "/home", tab.text()


def _logged_in_card_holder(tab: Tab, server: DemoServer, *, listed: bool = False) -> Card:
    """Strong ten days ago: the code alone logs in, each payment asks for a proof."""
    user, card = cap_user(server, strong_days_ago=10, listed=listed)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/home", tab.path
    return card


def _entered(tab: Tab, form: str) -> str:
    """The form posted: the approval page of the new order; its path."""
    tab.submit(form)
    order = tab.path
    assert re.fullmatch(r"/operations/[^/]+", order), order
    return order


def _not_executable(tab: Tab, order: str) -> None:
    """The order still waits for a proof: the page offers no way to execute it."""
    tab.open(order)
    assert tab.page.locator(f'form[action="{order}/execute"]').count() == 0
    assert tab.page.locator(f'a[href="{order}/proof/cap_sign"]').count() == 1


def _executed(tab: Tab, order: str) -> None:
    assert tab.path == order, tab.path
    tab.submit(f"{order}/execute")
    assert tab.page.locator("[role=status]").count() >= 1, tab.text()


@pytest.mark.parametrize("on", ["server", "pg_server"])
def test_a_sepa_instant_transfer_signed_with_the_cap_reader(
    request: pytest.FixtureRequest, open_tab: OpenTab, on: str
) -> None:
    server: DemoServer = request.getfixturevalue(on)
    tab, reader = open_tab(server), open_tab(server)
    card = _logged_in_card_holder(tab, server, listed=True)
    tab.open("/transfers/new")
    tab.fill("amount", "1250.50")
    tab.fill("name", "Dupont SARL")
    tab.fill("iban", IBAN)
    tab.fill("reference", "F-42")
    order = _entered(tab, "/transfers/new")
    assert "1250.50 EUR" in tab.text()
    assert "Dupont SARL" in tab.text()
    follow(tab, f"{order}/proof/cap_sign")
    proof = f"{order}/proof/cap_sign"
    assert "1250.50 EUR" in tab.text()  # the proof page shows what is signed: the amount
    assert "Dupont SARL" in tab.text()  # and the payee
    digits, cents = proof_facts(tab, proof)
    assert cents == "125050", cents  # the amount typed into the reader is the page's
    # the user signs another amount than the page shows: refused, nothing executed
    tab.fill("code", read_virtual_reader(reader, card, digits, "925050"))
    tab.submit(proof)
    assert tab.path == proof, tab.path
    _refused(tab)
    _not_executable(tab, order)
    # the amount shown, signed: approved, then executed
    follow(tab, proof)
    digits, cents = proof_facts(tab, proof)
    tab.fill("code", read_virtual_reader(reader, card, digits, cents))
    tab.submit(proof)
    _executed(tab, order)
    assert "1250.50 EUR" in tab.text()


def _batch(tab: Tab, lines: list[tuple[str, str, str]]) -> str:
    tab.open("/batches/new")
    tab.fill("lines", "\n".join(";".join(line) for line in lines))
    order = _entered(tab, "/batches/new")
    for iban, amount, name in lines:
        row = tab.page.locator("table tbody tr", has_text=name)
        assert row.count() == 1, name
        assert iban in row.inner_text()
        assert f"{amount} EUR" in row.inner_text()
    return order


@pytest.mark.parametrize("on", ["server", "pg_server"])
def test_a_payment_batch_signed_with_the_cap_reader(
    request: pytest.FixtureRequest, open_tab: OpenTab, on: str
) -> None:
    server: DemoServer = request.getfixturevalue(on)
    tab = open_tab(server)
    card = _logged_in_card_holder(tab, server)
    order = _batch(tab, BATCH)
    proof = f"{order}/proof/cap_sign"
    follow(tab, proof)
    (digits,) = proof_facts(tab, proof)  # Respond over digits derived from the batch
    ceremony = tab.page.input_value(f'form[action="{proof}"] input[name=ceremony]')
    approved = card.respond(digits)
    # the same batch with one amount changed, sent with the code the user made for the
    # batch shown (a script in the page swaps the operation): refused, nothing executed
    changed = _batch(tab, [BATCH[0], (BATCH[1][0], "9980.45", BATCH[1][2])])
    swapped = f"{changed}/proof/cap_sign"
    follow(tab, swapped)
    tab.page.eval_on_selector(
        f'form[action="{swapped}"] input[name=ceremony]', "(e, v) => { e.value = v; }", ceremony
    )
    tab.fill("code", approved)
    tab.submit(swapped)
    assert tab.path == swapped, tab.path
    _refused(tab)
    _not_executable(tab, changed)
    # the batch shown, answered with its own challenge: approved, then executed
    tab.open("/orders")
    follow(tab, order)
    follow(tab, proof)
    (digits,) = proof_facts(tab, proof)
    tab.fill("code", card.respond(digits))
    tab.submit(proof)
    _executed(tab, order)
    assert "980.45 EUR" in tab.text()
