"""A browser tab driven like a person would: open a page, fill fields by their ids (the
labels change with the language), press a form's button; every page arrived at is checked
by axe (:mod:`tests.browser.audit`) and, for the docs, photographed at desktop and mobile
widths (:class:`Screens`, only when ``SECUREBOX_SCREENSHOTS`` names a folder)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from playwright.sync_api import Page, ViewportSize

from tests.browser.audit import Auditor

__all__ = ["DESKTOP", "MOBILE", "Screens", "Tab", "page_name"]

DESKTOP: Final = ViewportSize(width=1280, height=800)
MOBILE: Final = ViewportSize(width=390, height=844)
_ID: Final = re.compile(r"/[0-9a-f]{8}-[0-9a-f-]{27}|/[0-9A-Za-z_-]{20,}|/\d+(?=/|$)")


def page_name(url: str) -> str:
    """The page's path with identifiers replaced: ``/documents/{id}``."""
    return _ID.sub("/{id}", urlsplit(url).path) or "/"


@dataclass
class Screens:
    """Full-page screenshots of each page's first visit in ``lang``, at both widths."""

    folder: Path
    lang: str
    taken: set[str] = field(default_factory=set)

    def take(self, page: Page, name: str, lang: str) -> None:
        if lang != self.lang or name in self.taken:
            return
        self.taken.add(name)
        self.folder.mkdir(parents=True, exist_ok=True)
        slug = name.strip("/").replace("/", "-").replace("{id}", "id") or "index"
        size = page.viewport_size or DESKTOP
        for width, viewport in (("desktop", DESKTOP), ("mobile", MOBILE)):
            page.set_viewport_size(viewport)
            page.screenshot(path=self.folder / f"{slug}-{width}.png", full_page=True)
        page.set_viewport_size(size)


@dataclass
class Tab:
    page: Page
    base: str
    lang: str
    auditor: Auditor
    screens: Screens | None = None
    #: Whether axe checks each page (not in a context without JavaScript).
    audited: bool = True

    @property
    def path(self) -> str:
        return urlsplit(self.page.url).path

    def open(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.arrived()

    def arrived(self) -> None:
        """The page is loaded: check it with axe (serious or critical violations fail the
        test) and photograph it."""
        self.page.wait_for_load_state("load")
        name = page_name(self.page.url)
        if self.audited:
            blocking = self.auditor.check(self.page, name)
            assert not blocking, f"axe on {name} ({self.lang}): {blocking}"
        if self.screens is not None:
            self.screens.take(self.page, name, self.lang)

    def fill(self, field_id: str, value: str) -> None:
        self.page.fill(f"#{field_id}", value)

    def submit(self, action: str, *, arrive: bool = True) -> None:
        """Press the submit button of the form posting to ``action``."""
        with self.page.expect_navigation():
            # a button without a type submits its form too
            self.page.click(f'form[action="{action}"] button:not([type=button], [type=reset])')
        if arrive:
            self.arrived()

    def text(self) -> str:
        return self.page.inner_text("main")
