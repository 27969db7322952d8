"""A forgotten confidential code, recovered by an e-mail link (docs/recovery.md): the user
asks from the code's page, the link arrives through the real SMTP relay (valid 3 hours,
single use), the user follows it, chooses a new code (told by SMS) and logs in with it;
the old code is refused, and the same link followed again is refused too."""

from __future__ import annotations

import re
from typing import Final

import pytest

from tests.browser.driver import Tab
from tests.browser.journeys import follow, identify_for_code
from tests.browser.messaging import Messages
from tests.browser.server import CODE, DemoServer
from tests.browser.steps_msgs import user_with_destinations

pytestmark = pytest.mark.browser

NEW_CODE: Final = "58203716"
LINK: Final = r"https?://\S+/recovery/link/[\w-]{20,}"
#: The link's lifetime as the mail states it (policy ``recovery.reset_link_lifetime``).
HOURS: Final = {"en": r"within 3 hours", "fr": r"dans les 3 heures"}


@pytest.mark.every_language  # its pages (the link's) are reached by no other test
def test_forgotten_code_recovered_by_an_e_mail_link(
    tab: Tab, mail_server: DemoServer, mailbox: Messages
) -> None:
    tab.base = mail_server.base
    who = user_with_destinations(mail_server)
    user = who.user
    identify_for_code(tab, user.client, user.number)
    follow(tab, "/recovery/code")
    tab.fill("client_id", user.client)
    tab.fill("user_number", user.number)
    tab.fill("email", who.email)
    mails = len(mailbox.mails_to(who.email))
    tab.submit("/recovery/code")
    assert tab.path == "/recovery/code"
    assert re.search(r"\b3\b", tab.text()), tab.text()  # "for 3 hours"
    mailbox.mail(who.email, HOURS[tab.lang], after=mails)
    link = mailbox.mail(who.email, LINK, after=mails).group(0)
    assert link.startswith(tab.base), link  # the server's public address

    # the user follows the link and chooses a new code
    tab.page.goto(link)
    tab.arrived()
    texts = len(mailbox.texts_to(who.phone))
    tab.fill("code", NEW_CODE)
    tab.fill("confirm", NEW_CODE)
    tab.submit(tab.path)
    assert tab.page.locator("a[href='/login']").count() >= 1, tab.text()
    assert tab.page.locator("#code").count() == 0
    mailbox.text(who.phone, r".+", after=texts)  # told on the other channel

    # the old code is refused, the new one logs in (the recovery is no strong login: the
    # first access still asks for a second factor)
    follow(tab, "/login")
    identify_for_code(tab, user.client, user.number)
    tab.fill("code", CODE)
    tab.submit("/login/code")
    assert tab.path == "/login/code"
    assert tab.page.locator(".error-summary[role=alert]").count() == 1
    tab.fill("code", NEW_CODE)
    tab.submit("/login/code")
    assert tab.path == "/login/strong", tab.path

    # the link works once: followed again, it is gone and the page offers a new one
    answer = tab.page.goto(link)
    assert answer is not None
    assert answer.status == 410, answer.status
    tab.arrived()
    assert tab.page.locator("#code, #confirm").count() == 0
    follow(tab, "/recovery/code")
