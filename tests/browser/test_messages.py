"""The 90-day prompt completed by a one-time code sent by SMS, and a first access by one
sent by e-mail, each on SQLite and on PostgreSQL: the demo sends through a real SMS
provider and SMTP relay (:mod:`tests.browser.messaging`); the person reads the code on
their phone or in their mailbox and types it.

Each journey has a fresh user with a verified phone number and e-mail address, prepared
as the demo prepares its user 05 (:func:`~tests.browser.steps_msgs.user_with_destinations`):
the library allows one code every 30 s and five an hour per user, so user 05 could not
serve both channels in both languages without waiting."""

from __future__ import annotations

from typing import Final

import pytest

from tests.browser.driver import Tab
from tests.browser.journeys import follow, log_in_with_code
from tests.browser.messaging import Messages
from tests.browser.server import CODE, DemoServer
from tests.browser.steps_msgs import user_with_destinations

pytestmark = pytest.mark.browser

#: The one-time code in a message (6 to 8 digits, the policy's ``oob.digits``).
OOB_CODE: Final = r"(?<!\d)(\d{6,8})(?!\d)"


#: The demo sending through the mailbox, on SQLite or on PostgreSQL.
ON_BOTH_DATABASES: Final = pytest.mark.parametrize("on", ["mail_server", "mail_pg_server"])


@ON_BOTH_DATABASES
def test_the_90_day_prompt_completed_by_a_code_sent_by_sms(
    request: pytest.FixtureRequest, tab: Tab, mailbox: Messages, on: str
) -> None:
    mail_server: DemoServer = request.getfixturevalue(on)
    tab.base = mail_server.base
    who = user_with_destinations(mail_server, strong_days_ago=91)
    log_in_with_code(tab, who.user.client, who.user.number, CODE)
    assert tab.path == "/login/strong", tab.path  # 91 days: a second factor
    follow(tab, "/login/sms")
    assert who.phone[-2:] in tab.text()  # the number shown masked, its end visible
    assert who.phone not in tab.text()
    before = len(mailbox.texts_to(who.phone))
    tab.submit("/login/sms/send")
    assert tab.page.locator("[role=status]").count() == 1, tab.text()
    code = mailbox.text(who.phone, OOB_CODE, after=before).group(1)
    tab.fill("code", code)
    tab.submit("/login/sms")
    assert tab.path == "/home", tab.text()
    assert who.user.client in tab.text()


@ON_BOTH_DATABASES
def test_first_access_completed_by_a_code_sent_by_e_mail(
    request: pytest.FixtureRequest, tab: Tab, mailbox: Messages, on: str
) -> None:
    mail_server: DemoServer = request.getfixturevalue(on)
    tab.base = mail_server.base
    who = user_with_destinations(mail_server)
    log_in_with_code(tab, who.user.client, who.user.number, CODE)
    assert tab.path == "/login/strong", tab.path  # first access: a second factor
    follow(tab, "/login/email")
    assert who.email not in tab.text()  # masked
    before = len(mailbox.mails_to(who.email))
    tab.submit("/login/email/send")
    assert tab.page.locator("[role=status]").count() == 1, tab.text()
    code = mailbox.mail(who.email, OOB_CODE, after=before).group(1)
    tab.fill("code", "0" * len(code) if code != "0" * len(code) else "1" * len(code))
    tab.submit("/login/email")
    assert tab.path == "/login/email"
    assert tab.page.locator(".error-summary[role=alert]").count() == 1
    tab.fill("code", code)
    tab.submit("/login/email")
    assert tab.path == "/home", tab.text()
