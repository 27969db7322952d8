"""Steps of the administration journeys (tests/browser/test_admin.py): the administrator's
login and TOTP, the approval of a change on the step-up pages, a first login completed by a
code sent by SMS, and the documents a tab lists."""

from __future__ import annotations

import re
import secrets
from typing import Final, NamedTuple

from sqlalchemy import text

from securebox_auth.identity import Principal
from tests.browser.driver import Tab
from tests.browser.journeys import follow, log_in_with_code
from tests.browser.messaging import Messages
from tests.browser.server import BANK, DEMO_CLIENT, Authenticator, DemoServer

__all__ = [
    "Document",
    "approve",
    "boss_totp",
    "box_documents",
    "first_login_by_sms",
    "free_user_number",
    "listed",
    "log_in_boss",
    "walk_documents",
]

BOSS: Final = Principal.parse(DEMO_CLIENT, "01")
_DOCUMENT: Final = re.compile(r"^/documents/([0-9A-Za-z_-]{16,})$")


def boss_totp(server: DemoServer) -> Authenticator:
    """User 01's authenticator. The demo gives 01 a certificate for strong proofs (through
    the signing agent); a TOTP enrolled by the back office (the library, on the server's
    database: preparing data) stands in for it, once per server."""
    apps = server._apps
    if "01" not in apps:
        enrolled = server.box.enrol_first_totp(BANK, BOSS)
        app = Authenticator(enrolled.secret())
        assert server.box.confirm_totp(BOSS, app.code())
        apps["01"] = app
    return apps["01"]


def log_in_boss(tab: Tab, server: DemoServer) -> None:
    log_in_with_code(tab, DEMO_CLIENT, "01", server.demo_code("01"))
    assert tab.path == "/home", tab.path


def approve(tab: Tab, code: str, app: Authenticator) -> None:
    """On an order's approval page: prove with the TOTP when offered, else the code, until
    the page offers to confirm; then confirm: the page says the operation was recorded."""
    order = tab.path
    assert re.fullmatch(r"/operations/[^/]+", order), order
    for _ in range(3):
        if tab.page.locator(f'form[action="{order}/execute"]').count():
            break
        offered = tab.page.locator(f'a[href^="{order}/proof/"]')
        hrefs = [offered.nth(i).get_attribute("href") for i in range(offered.count())]
        method = "totp" if f"{order}/proof/totp" in hrefs else "confidential_code"
        assert f"{order}/proof/{method}" in hrefs, (hrefs, tab.text())
        follow(tab, f"{order}/proof/{method}")
        tab.fill("code", app.code() if method == "totp" else code)
        tab.submit(f"{order}/proof/{method}")
        assert tab.path == order, (tab.path, tab.text())
    tab.submit(f"{order}/execute")
    assert tab.page.locator("main [role=status]").count() >= 1, tab.text()


def first_login_by_sms(
    tab: Tab, mailbox: Messages, client: str, user: str, one_time: str, mobile: str, new: str
) -> None:
    """The one-time code, its forced change to ``new``, then a code sent by SMS to the
    registered ``mobile`` (the first access's strong authentication): the home page."""
    log_in_with_code(tab, client, user, one_time)
    assert tab.path == "/login/change-code", tab.path
    tab.fill("current", one_time)
    tab.fill("new", new)
    tab.fill("confirm", new)
    tab.submit("/login/change-code")
    assert tab.path == "/login/strong", tab.path
    follow(tab, "/login/sms")
    before = len(mailbox.texts_to(mobile))
    assert tab.page.locator("#target-1").count() == 0  # one number: the code goes there
    tab.submit("/login/sms/send")
    code = mailbox.text(mobile, r"\b([0-9]{6,8})\b", after=before).group(1)
    tab.fill("code", code)
    tab.submit("/login/sms")
    assert tab.path == "/home", (tab.path, tab.text())


def listed(tab: Tab) -> list[str]:
    """The ids of the documents the page's tables link to, in order."""
    links = tab.page.locator("table.documents a[href^='/documents/']")
    found = []
    for i in range(links.count()):
        href = links.nth(i).get_attribute("href") or ""
        if match := _DOCUMENT.match(href):
            found.append(match.group(1))
    return found


def walk_documents(tab: Tab, query: str = "") -> set[str]:
    """Every document of a search, page after page (the "next page" links)."""
    tab.open(f"/documents{query}")
    seen: set[str] = set()
    for _ in range(50):
        seen.update(listed(tab))
        more = tab.page.locator("nav a[rel=next]")
        if not more.count():
            return seen
        with tab.page.expect_navigation():
            more.first.click()
        tab.arrived()
    raise AssertionError("more than 50 pages of documents")


class Document(NamedTuple):
    id: str
    company: str
    theme: str
    label: str


def box_documents(server: DemoServer) -> list[Document]:
    """Every live document of the demo's box: what the test knows and the user does not
    (the ids it guesses)."""
    engine = server.box.store.engine  # type: ignore[attr-defined]
    query = text(
        "SELECT id, company, theme, label FROM box_documents WHERE client_id = :client"
        " AND status = 'live'"
    )
    with engine.connect() as conn:
        rows = conn.execute(query, {"client": DEMO_CLIENT}).all()
    return [Document(*map(str, row)) for row in rows]


def free_user_number(server: DemoServer, client: str = DEMO_CLIENT) -> str:
    """A user number nobody holds in ``client``'s subscription (10 to 99)."""
    for _ in range(200):
        number = f"{secrets.randbelow(90) + 10:02d}"
        if server.box.store.get_account(Principal.parse(client, number)) is None:
            return number
    raise AssertionError("no free user number")
