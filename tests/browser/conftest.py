"""The browser suite's fixtures (``pytest -m browser tests/browser``; ``nox -s browser``).

One demo server for the whole run (:mod:`tests.browser.server`), Debian's Chromium through
Playwright (``/usr/bin/chromium``, ``SECUREBOX_CHROMIUM`` overrides; Playwright's own
browser download is never used), and a fresh browser context per tab, in French or in
English: each journey runs in one of them, taken in turn, and the page inventory
(test_pages.py) in both, so that axe sees every page in each language. Each context
records a Playwright trace; when a test fails, its traces and a screenshot of each of its
pages are left in ``SECUREBOX_BROWSER_ARTIFACTS`` (default ``.cache/browser-artifacts``),
with the suite's accessibility report. ``SECUREBOX_SCREENSHOTS`` (a folder) photographs every page.
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "every_language: the test runs in every language of the run (the page inventory);"
        " other journeys run in one language each, taken in turn",
    )


#: The tests that run in every language (collected), and those of them that ran.
_INVENTORY: Final = pytest.StashKey[set[str]]()
_INVENTORY_RAN: Final = pytest.StashKey[set[str]]()


def _variant(item: pytest.Item) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A test with its parameters except the language: the journey a language variant is of."""
    spec = getattr(item, "callspec", None)
    params = (
        ()
        if spec is None
        else tuple(
            sorted((name, repr(value)) for name, value in spec.params.items() if name != "lang")
        )
    )
    return item.nodeid.split("[", 1)[0], params


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each journey runs in one language, French and English taken in turn through the
    collection, so that both are driven through every kind of journey without paying for
    every journey twice; the page inventory (``every_language``: test_pages.py) runs in
    every language, and the session's end checks that axe saw every page it reached in
    each of them (:func:`auditor`). ``SECUREBOX_BROWSER_EVERY_LANGUAGE=1`` runs every
    journey in every language."""
    here = Path(__file__).parent
    config.stash[_INVENTORY] = {
        item.nodeid
        for item in items
        if here in item.path.parents and item.get_closest_marker("every_language") is not None
    }
    config.stash[_INVENTORY_RAN] = set()
    if len(LANGS) < 2 or os.environ.get("SECUREBOX_BROWSER_EVERY_LANGUAGE") == "1":
        return
    turns: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
    dropped = []
    for item in items:
        spec = getattr(item, "callspec", None)
        if (
            here not in item.path.parents  # the hook sees every test of the run, not only ours
            or spec is None
            or "lang" not in spec.params
            or item.get_closest_marker("every_language") is not None
        ):
            continue
        chosen = turns.setdefault(_variant(item), LANGS[len(turns) % len(LANGS)])
        if spec.params["lang"] != chosen:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session")
def auditor(request: pytest.FixtureRequest) -> Iterator[Auditor]:
    """axe on every page; at the end, the report, and when the whole inventory ran (the
    ``every_language`` tests), a check that each page the run reached was audited in every
    language (a page only a journey reaches belongs in test_pages.py)."""
    for old in ARTIFACTS.glob("tests_browser_*"):  # a previous run's failures
        shutil.rmtree(old)
    found = Auditor()
    yield found
    if not found.pages:
        return
    version = json.loads((AXE_FILE.parents[0] / "package.json").read_text())["version"]
    found.write(ARTIFACTS, version)
    inventory = request.config.stash.get(_INVENTORY, set())
    if len(LANGS) > 1 and inventory and inventory <= request.config.stash[_INVENTORY_RAN]:
        audited: dict[str, set[str]] = {}
        for page in found.pages.values():
            audited.setdefault(page["page"], set()).add(page["lang"])
        missing = {page: sorted(set(LANGS) - langs) for page, langs in audited.items()
                   if set(LANGS) - langs}  # fmt: skip
        if missing:
            pytest.fail(
                "pages audited in some languages only (add them to test_pages.py or mark"
                f" their journey every_language): {missing}",
                pytrace=False,
            )


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
    if request.node.get_closest_marker("every_language") is not None:
        request.config.stash.setdefault(_INVENTORY_RAN, set()).add(request.node.nodeid)

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
