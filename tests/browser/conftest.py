"""The browser suite's fixtures (``pytest -m browser tests/browser``; ``nox -s browser``).

One demo server for the whole run (:mod:`tests.browser.server`), Debian's Chromium through
Playwright (``/usr/bin/chromium``, ``SECUREBOX_CHROMIUM`` overrides; Playwright's own
browser download is never used), and a fresh browser context per tab, in French and in
English (every test runs in both). Each context records a Playwright trace; when a test
fails, its traces and a screenshot of each of its pages are left in
``SECUREBOX_BROWSER_ARTIFACTS`` (default ``.cache/browser-artifacts``), with the suite's
accessibility report. ``SECUREBOX_SCREENSHOTS`` (a folder) photographs every page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Final, Protocol

import pytest

pytest.importorskip("playwright")

from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from tests.browser.audit import AXE_FILE, Auditor, axe_source
from tests.browser.driver import DESKTOP, Screens, Tab
from tests.browser.messaging import Messages, messages
from tests.browser.server import DemoServer, demo_server
from tests.stores.conftest import _admin_url, scratch_postgres

ROOT: Final = Path(__file__).resolve().parents[2]
ARTIFACTS: Final = Path(
    os.environ.get("SECUREBOX_BROWSER_ARTIFACTS", ROOT / ".cache/browser-artifacts")
)
CHROMIUM: Final = os.environ.get("SECUREBOX_CHROMIUM", "/usr/bin/chromium")
LOCALES: Final = {"fr": "fr-FR", "en": "en-GB"}
#: The languages every test runs in (``SECUREBOX_BROWSER_LANGS="en"``: a shorter run).
LANGS: Final = os.environ.get("SECUREBOX_BROWSER_LANGS", "en fr").split()


class OpenTab(Protocol):
    """Opens a tab in a new browser context, on ``on`` (default: the SQLite demo)."""

    def __call__(self, on: DemoServer | None = None, *, javascript: bool = True) -> Tab: ...


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item: the tab fixture saves traces on failure."""
    report: pytest.TestReport = yield
    setattr(item, f"report_{report.when}", report)
    return report


#: The parameters that put a journey on PostgreSQL (``on_both_databases``, the CAP and
#: message modules' ``on``, the certificate's ``cert_demo``).
_ON_POSTGRESQL: Final = frozenset(
    {("server", "postgresql"), ("cert_demo", "postgresql"), ("on", "pg_server"),
     ("on", "mail_pg_server")}
)  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A journey's PostgreSQL variant runs in the first language only: the database does
    not change the pages (axe and the screenshots see them in every language on SQLite),
    and the suite stays within its time."""
    here = Path(__file__).parent
    dropped = [
        item
        for item in items
        if here in item.path.parents  # the hook sees every test of the run, not only ours
        and (spec := getattr(item, "callspec", None)) is not None
        # compared, not hashed: other tests' parameters may be unhashable
        and any(spec.params.get(name) == value for name, value in _ON_POSTGRESQL)
        and spec.params.get("lang", LANGS[0]) != LANGS[0]
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session")
def auditor() -> Iterator[Auditor]:
    for old in ARTIFACTS.glob("tests_browser_*"):  # a previous run's failures
        shutil.rmtree(old)
    found = Auditor()
    yield found
    if found.pages:
        version = json.loads((AXE_FILE.parents[0] / "package.json").read_text())["version"]
        found.write(ARTIFACTS, version)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with demo_server(tmp_path_factory.mktemp("browser-demo")) as running:
        yield running


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The same demo on a fresh PostgreSQL database (dropped afterwards)."""
    with (
        scratch_postgres(_admin_url()) as url,
        demo_server(tmp_path_factory.mktemp("browser-demo-pg"), database_url=url) as running,
    ):
        yield running


def _on_either_database(
    request: pytest.FixtureRequest, server: DemoServer, pg_server: DemoServer
) -> DemoServer:
    return pg_server if request.param == "postgresql" else server


#: ``from tests.browser.conftest import on_both_databases`` in a module runs each of its
#: journeys on SQLite and on PostgreSQL: it overrides ``server`` (and so ``open_tab``).
on_both_databases = pytest.fixture(name="server", params=["sqlite", "postgresql"])(
    _on_either_database
)


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Messages]:
    """A real SMTP relay and SMS provider on loopback."""
    with messages() as found:
        yield found


@pytest.fixture(scope="session")
def mail_server(
    tmp_path_factory: pytest.TempPathFactory, mailbox: Messages
) -> Iterator[DemoServer]:
    """The demo sending its e-mails and SMS through :func:`mailbox`'s peers."""
    home = tmp_path_factory.mktemp("browser-demo-mail")
    with demo_server(home, env=mailbox.settings) as running:
        yield running


@pytest.fixture(scope="session")
def mail_pg_server(
    tmp_path_factory: pytest.TempPathFactory, mailbox: Messages
) -> Iterator[DemoServer]:
    """:func:`mail_server` on a fresh PostgreSQL database (dropped afterwards)."""
    home = tmp_path_factory.mktemp("browser-demo-mail-pg")
    with (
        scratch_postgres(_admin_url()) as url,
        demo_server(home, database_url=url, env=mailbox.settings) as running,
    ):
        yield running


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no chromium at {CHROMIUM} (apt-get install chromium)", pytrace=False)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def screens() -> Screens | None:
    folder = os.environ.get("SECUREBOX_SCREENSHOTS")
    if not folder:
        return None
    return Screens(Path(folder), os.environ.get("SECUREBOX_SCREENSHOTS_LANG", "en"))


@pytest.fixture(params=[lang for lang in LOCALES if lang in LANGS])
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_tab(
    request: pytest.FixtureRequest,
    chromium: Browser,
    server: DemoServer,
    auditor: Auditor,
    screens: Screens | None,
    lang: str,
) -> Iterator[OpenTab]:
    """A factory of tabs, each in a new browser context (its own cookies: another
    browser), traced; on failure the traces and screenshots go to the artifacts folder."""
    axe = axe_source()
    opened: list[tuple[BrowserContext, Tab]] = []

    def open_one(on: DemoServer | None = None, *, javascript: bool = True) -> Tab:
        context = chromium.new_context(
            locale=LOCALES[lang], viewport=DESKTOP, java_script_enabled=javascript
        )
        context.set_default_timeout(10_000)
        context.add_init_script(axe)
        context.tracing.start(screenshots=True, snapshots=True)
        base = (on or server).base
        tab = Tab(context.new_page(), base, lang, auditor, screens if javascript else None)
        tab.audited = javascript  # axe is a script: a page without JavaScript is not audited
        opened.append((context, tab))
        return tab

    yield open_one
    failed = any(
        getattr(getattr(request.node, f"report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.nodeid)
    for n, (context, tab) in enumerate(opened):
        if failed:
            folder.mkdir(parents=True, exist_ok=True)
            try:
                tab.page.screenshot(path=folder / f"tab{n}.png", full_page=True)
            finally:
                context.tracing.stop(path=folder / f"trace{n}.zip")
        else:
            context.tracing.stop()
        context.close()
    if failed:
        print(f"\nbrowser artifacts: {folder} (playwright show-trace {folder}/trace0.zip)")


@pytest.fixture
def tab(open_tab: OpenTab) -> Tab:
    return open_tab()
