"""Without JavaScript (browser contexts with scripts off), every method that does not need a
script still works with plain forms: the 90-day prompt (RTS art. 10) completed by a CAP
Identify code and by a Respond code over the challenge the page shows, by a code sent by
SMS and by one sent by e-mail; a SEPA instant transfer signed with the CAP reader (Sign, the
demo's virtual reader page with scripts off too). The code, its forced change and the TOTP
are in :mod:`tests.browser.test_no_javascript`.

Pages without scripts are not checked by axe (it is a script); the same pages with scripts
on are, by the other journeys."""

from __future__ import annotations

from typing import Final

import pytest

from tests.browser.conftest import OpenTab
from tests.browser.driver import Tab
from tests.browser.journeys import follow, log_in_with_code
from tests.browser.messaging import Messages
from tests.browser.server import CODE, DemoServer
from tests.browser.steps_cap import cap_user, challenge_shown, proof_facts, read_virtual_reader
from tests.browser.steps_msgs import user_with_destinations

pytestmark = pytest.mark.browser

OOB_CODE: Final = r"(?<!\d)(\d{6,8})(?!\d)"
IBAN: Final = "FR7630006000011234567890189"


def _refused(tab: Tab) -> None:
    assert tab.page.locator(".error-summary[role=alert]").count() == 1, tab.text()
    assert tab.page.get_attribute("#code", "aria-invalid") == "true"


def test_the_90_day_prompt_completed_by_cap_identify(open_tab: OpenTab, server: DemoServer) -> None:
    tab = open_tab(javascript=False)
    user, card = cap_user(server, strong_days_ago=91)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/login/strong", tab.path
    follow(tab, "/login/cap")
    right = card.identify()
    tab.fill("code", f"{(int(right) + 1) % 10 ** len(right):0{len(right)}d}")
    tab.submit("/login/cap")
    assert tab.path == "/login/cap", tab.path
    _refused(tab)
    tab.fill("code", card.identify())
    tab.submit("/login/cap")
    assert tab.path == "/home", tab.text()


def test_the_90_day_prompt_completed_by_cap_respond(open_tab: OpenTab, server: DemoServer) -> None:
    tab = open_tab(javascript=False)
    user, card = cap_user(server, strong_days_ago=91)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/login/strong", tab.path
    follow(tab, "/login/cap")
    follow(tab, "/login/cap/respond")
    tab.fill("code", card.respond(challenge_shown(tab)))
    tab.submit("/login/cap/respond")
    assert tab.path == "/home", tab.text()


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_the_90_day_prompt_completed_by_a_code_sent_by_message(
    open_tab: OpenTab, mail_server: DemoServer, mailbox: Messages, channel: str
) -> None:
    tab = open_tab(mail_server, javascript=False)
    who = user_with_destinations(mail_server, strong_days_ago=91)
    log_in_with_code(tab, who.user.client, who.user.number, CODE)
    assert tab.path == "/login/strong", tab.path
    follow(tab, f"/login/{channel}")
    sent = mailbox.texts_to(who.phone) if channel == "sms" else mailbox.mails_to(who.email)
    before = len(sent)
    tab.submit(f"/login/{channel}/send")
    assert tab.page.locator("[role=status]").count() == 1, tab.text()
    if channel == "sms":
        code = mailbox.text(who.phone, OOB_CODE, after=before).group(1)
    else:
        code = mailbox.mail(who.email, OOB_CODE, after=before).group(1)
    tab.fill("code", code)
    tab.submit(f"/login/{channel}")
    assert tab.path == "/home", tab.text()
    assert who.user.client in tab.text()


def test_a_sepa_instant_transfer_signed_with_the_cap_reader(
    open_tab: OpenTab, server: DemoServer
) -> None:
    tab, reader = open_tab(javascript=False), open_tab(javascript=False)
    user, card = cap_user(server, strong_days_ago=10, listed=True)
    log_in_with_code(tab, user.client, user.number, CODE)
    assert tab.path == "/home", tab.text()
    tab.open("/transfers/new")
    tab.fill("amount", "310.20")
    tab.fill("name", "Dupont SARL")
    tab.fill("iban", IBAN)
    tab.fill("reference", "F-43")
    tab.submit("/transfers/new")
    order = tab.path
    assert order.startswith("/operations/"), order
    proof = f"{order}/proof/cap_sign"
    follow(tab, proof)
    assert "310.20 EUR" in tab.text()  # the amount and the payee approved
    assert "Dupont SARL" in tab.text()
    digits, cents = proof_facts(tab, proof)
    assert cents == "31020", cents
    tab.fill("code", read_virtual_reader(reader, card, digits, cents))
    tab.submit(proof)
    assert tab.path == order, tab.path
    tab.submit(f"{order}/execute")
    assert tab.page.locator("[role=status]").count() >= 1, tab.text()
