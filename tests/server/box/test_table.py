"""The documents table of the home and search pages (:mod:`securebox_server.box.table`:
its lines made in Python): each line's date, label, theme label, company, sender and read
status, in the page's language."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from tests.server.box.conftest import C1, SENDER
from tests.server.box.test_pages import PRINCIPAL, Site, site  # noqa: F401 (a fixture)

LINE = re.compile(r"<tr>\s*<td><time datetime=\"([0-9-]+)\">\1</time></td>(.*?)</tr>", re.S)
CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)


def _lines(html: str) -> list[list[str]]:
    return [
        [date, *(re.sub(r"<[^>]+>", "", c).strip() for c in CELL.findall(rest))]
        for date, rest in LINE.findall(html)
    ]


def test_each_line_in_the_page_language(site: Site) -> None:  # noqa: F811
    first = site.publish(label="March payslip")
    site.publish("tax-notice", label="Corporate tax notice")
    browser = site.browser(PRINCIPAL, lang="en")
    assert browser.get(f"/documents/{first}/view").status_code == 200
    lines = _lines(browser.get("/home").text)
    # Site.publish issues the n-th document a day and n minutes before now
    issued = [(site.clock.now() - timedelta(days=1, minutes=n)).date().isoformat() for n in (1, 2)]
    assert [line[1:] for line in lines] == [
        ["March payslip", "Payroll", C1.value, SENDER, "Read"],
        ["Corporate tax notice", "Tax", C1.value, SENDER, "Unread"],
    ]
    assert [line[0] for line in lines] == issued
    french = site.browser(PRINCIPAL, lang="fr")
    assert [line[-1] for line in _lines(french.get("/documents?label=tax").text)] == ["Non lu"]


def test_every_text_of_a_line_is_escaped(site: Site) -> None:  # noqa: F811
    hostile = """<script>alert("x")</script> & 'q'"""
    site.publish(label=hostile)
    page = site.browser(PRINCIPAL, lang="en").get("/home").text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;" in page
    assert [unescape(line[1]) for line in _lines(page)] == [hostile]
