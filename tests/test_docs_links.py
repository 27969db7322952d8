"""Every relative link and image in README.md and docs/ names a file of the repository (the
screenshots the browser suite writes, the ADRs, the other pages): a renamed page or a
screenshot that is no longer taken fails here, not in a reader's browser."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def broken_links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path:  # a web address or an anchor
            continue
        if not (page.parent / unquote(parts.path)).exists():
            broken.append(target)
    return broken


def test_every_relative_link_and_image_exists() -> None:
    found = {str(p.relative_to(ROOT)): broken_links(p) for p in _pages()}
    assert {page: links for page, links in found.items() if links} == {}


def test_a_missing_target_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("![x](screenshots/none.png) [ok](page.md) [web](https://a.example/x)\n")
    assert broken_links(page) == ["screenshots/none.png"]
