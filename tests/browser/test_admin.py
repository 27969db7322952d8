"""Administration in the browser, on the demo that sends its e-mails and SMS through a real
SMTP relay and SMS provider (``mail_server``):

* the administrator (demo user 01) adds a collaborator with rights on one company and one
  theme, approved with a step-up; the collaborator's one-time code arrives by SMS, the first
  login changes it and completes with a code by SMS to the mobile the administrator typed;
  the collaborator sees only that company's documents of that theme (home page and search),
  and a document of another theme or company, opened by its guessed URL, answers 404 like an
  id that does not exist;
* the administrator invites an accountant (a third party with no account: one is opened, its
  identifier comes in the invitation e-mail, its one-time code by SMS); the accountant logs
  in, opens the e-mail's link, is told that accepting needs a stronger method than a code by
  SMS, adds a TOTP from the profile page it links to, accepts, and sees the invited company's
  documents; the administrator revokes the invitation, and the accountant's next click on a
  document of that company answers 404.
"""

from __future__ import annotations

import collections
import secrets

import pytest
from stdnum import luhn

from securebox_server.demo_box_plan import COMPANIES, TRANSPORT
from tests.browser.conftest import OpenTab
from tests.browser.driver import Tab
from tests.browser.journeys import follow
from tests.browser.messaging import Messages
from tests.browser.server import DEMO_CLIENT, Authenticator, DemoServer
from tests.browser.steps_admin import (
    approve,
    boss_totp,
    box_documents,
    first_login_by_sms,
    free_user_number,
    listed,
    log_in_boss,
    walk_documents,
)

pytestmark = pytest.mark.browser

NEW_CODE = "80461937"


def _mobile() -> str:
    """A French mobile number of the range ARCEP reserves for fiction, new for each run."""
    return f"+336399{secrets.randbelow(10**5):05d}"


def _siren() -> str:
    """A valid SIREN (Luhn), new for each run."""
    body = f"{secrets.randbelow(10**8):08d}"
    return body + luhn.calc_check_digit(body)


def _opened(tab: Tab, document_id: str) -> tuple[int, str]:
    """The status and the main text of ``/documents/<id>`` opened by its URL."""
    answer = tab.page.goto(f"{tab.base}/documents/{document_id}")
    assert answer is not None
    tab.arrived()
    return answer.status, tab.text()


def _user_status(admin: Tab, number: str) -> str:
    """The status class of user ``number``'s row in the administrator's list."""
    admin.open("/admin/users")
    row = admin.page.locator("#users tbody tr").filter(
        has=admin.page.locator(f"a[href='/admin/users/{number}']")
    )
    assert row.count() == 1, admin.text()
    return row.locator("td[class^=status-]").get_attribute("class") or ""


def test_a_collaborator_sees_one_company_and_one_theme(
    open_tab: OpenTab, mail_server: DemoServer, mailbox: Messages
) -> None:
    app = boss_totp(mail_server)
    docs = box_documents(mail_server)
    company = TRANSPORT.value
    counts = collections.Counter(d.theme for d in docs if d.company == company)
    # the theme with the fewest documents (fewer pages to walk), two at least
    theme = min(counts, key=lambda t: (counts[t] < 2, counts[t]))
    expected = {d.id for d in docs if d.company == company and d.theme == theme}
    other_theme = next(d for d in docs if d.company == company and d.theme != theme)
    other_company = next(
        (d for d in docs if d.company != company and d.theme == theme),
        next(d for d in docs if d.company != company),
    )
    number, mobile = free_user_number(mail_server), _mobile()
    email = f"collaborator-{secrets.token_hex(4)}@example.com"

    admin = open_tab(mail_server)
    log_in_boss(admin, mail_server)
    admin.open("/admin/users")
    follow(admin, "/admin/users/new")
    admin.fill("user_number", number)
    admin.page.check("input[name=civility][value=mrs]")
    admin.fill("last_name", "Lefèvre")
    admin.fill("first_name", "Inès")
    admin.fill("mobile", mobile)
    admin.fill("email", email)
    admin.fill("function", "Comptable fournisseurs")
    admin.page.select_option("#role", "user")
    admin.page.check("input[name=companies][value=chosen]")
    admin.page.check(f"input[name=chosen][value='{company}']")
    admin.page.check("input[name=documents][value=partial]")
    admin.page.check(f"input[name=themes][value='{theme}']")
    for operation in ("view", "download"):
        admin.page.check(f"input[name=operations][value={operation}]")
    admin.page.check("input[name=channel][value=sms]")
    admin.submit("/admin/users/new")
    assert "Lefèvre" in admin.text()  # what is approved
    approve(admin, mail_server.demo_code("01"), app)
    one_time = mailbox.text(mobile, r"one-time confidential code: ([0-9]+)").group(1)
    assert one_time not in admin.page.content()  # never shown to the administrator
    assert _user_status(admin, number) == "status-pending"

    collaborator = open_tab(mail_server)
    first_login_by_sms(collaborator, mailbox, DEMO_CLIENT, number, one_time, mobile, NEW_CODE)
    on_home = listed(collaborator)
    assert on_home, collaborator.text()
    assert set(on_home) <= expected
    assert walk_documents(collaborator) == expected
    # the words of a document of another theme find nothing the collaborator may not see
    collaborator.fill("label", other_theme.label)
    with collaborator.page.expect_navigation():
        collaborator.page.click("form.search button")
    collaborator.arrived()
    assert not set(listed(collaborator)) - expected

    missing = _opened(collaborator, secrets.token_hex(16))
    assert missing[0] == 404
    assert _opened(collaborator, other_theme.id) == missing
    assert _opened(collaborator, other_company.id) == missing
    assert _opened(collaborator, sorted(expected)[0])[0] == 200
    assert _user_status(admin, number) == "status-added"


@pytest.mark.every_language  # the invitation's pages are reached by no other test
def test_an_accountant_invited_then_revoked(
    open_tab: OpenTab, mail_server: DemoServer, mailbox: Messages
) -> None:
    app = boss_totp(mail_server)
    docs = box_documents(mail_server)
    counts = collections.Counter(d.company for d in docs)
    company = min((s.value for s, _ in COMPANIES), key=lambda c: counts[c])
    expected = {d.id for d in docs if d.company == company}
    assert expected
    firm, mobile = f"Cabinet Roux {secrets.token_hex(3)}", _mobile()
    email = f"accountant-{secrets.token_hex(4)}@example.com"

    admin = open_tab(mail_server)
    log_in_boss(admin, mail_server)
    admin.open("/admin/third-parties")
    admin.fill("siren", _siren())
    admin.fill("name", firm)
    admin.fill("email", email)
    admin.page.check(f"input[name=companies][value='{company}']")
    admin.fill("mobile", mobile)
    admin.submit("/admin/third-parties")
    assert firm in admin.text()  # what is approved
    approve(admin, mail_server.demo_code("01"), app)
    client = mailbox.mail(email, r"client identifier: ([0-9]+)").group(1)
    link = mailbox.mail(email, r"https?://[^/\s]+(/invitations/[A-Za-z0-9_-]+)").group(1)
    one_time = mailbox.text(mobile, r"one-time code is ([0-9]+)").group(1)
    assert one_time not in str(mailbox.mails_to(email)[0])  # the code never by e-mail

    accountant = open_tab(mail_server)
    accountant.open(link)  # logged out: log in first, then open the link again
    follow(accountant, "/login")
    first_login_by_sms(accountant, mailbox, client, "01", one_time, mobile, NEW_CODE)
    accountant.open(link)
    # accepting changes rights: a code by SMS is not enough; the refusal links to the page
    # that adds an authenticator application
    accountant.submit(f"{link}/accept")
    assert accountant.page.locator("main [role=alert]").count() == 1
    follow(accountant, "/profile/totp")
    accountant.submit("/profile/totp")
    totp = Authenticator(accountant.page.inner_text("main code").strip())
    accountant.fill("code", totp.code())
    accountant.submit("/profile/totp/confirm")
    assert accountant.page.locator("main [role=status]").count() == 1
    accountant.open(link)
    accountant.submit(f"{link}/accept")
    approve(accountant, NEW_CODE, totp)

    accountant.open("/home")
    on_home = listed(accountant)
    assert on_home, accountant.text()
    assert set(on_home) <= expected
    assert walk_documents(accountant) == expected
    first = sorted(expected)[0]
    assert _opened(accountant, first)[0] == 200
    accountant.open("/documents")  # the accountant's list, still open while...
    shown = listed(accountant)[0]

    admin.open("/admin/third-parties")  # ...the administrator revokes the invitation
    row = admin.page.locator("#third-parties tbody tr", has_text=firm)
    action = row.locator("form").get_attribute("action")
    assert action is not None
    admin.submit(action)
    assert firm in admin.text()  # what is approved
    approve(admin, mail_server.demo_code("01"), app)
    admin.open("/admin/third-parties")
    assert row.locator("form").count() == 0  # revoked: nothing more to revoke

    with accountant.page.expect_navigation() as clicked:
        accountant.page.click(f"table.documents a[href='/documents/{shown}']")
    answer = clicked.value
    assert answer is not None
    assert answer.status == 404
    accountant.arrived()
    assert _opened(accountant, first) == _opened(accountant, secrets.token_hex(16))
