"""What the site generates, in one place (the hooks add it; the tests read it).

:func:`generated_pages` returns ``{path in the site: content}`` for every generated page and
file. It reads the repository (docs/policy.md's key tables, docs/screenshots, README.md,
CHANGELOG.md) and imports the code; it writes nothing, except the scratch SQLite database
the OpenAPI export builds in a temporary directory.
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path
from typing import Final

import securebox_auth
import securebox_server

from . import api_pages, error_codes, openapi_pages, policy_keys, server_settings

__all__ = [
    "ROOT",
    "adr_index",
    "generated_pages",
    "policy_key_page",
    "rewrite_links",
    "screenshot_gallery",
]

ROOT: Final = Path(__file__).resolve().parents[2]
POLICY_KEYS: Final = "reference/policy-keys.md"
ERROR_CODES: Final = "reference/error-codes.md"
GALLERY: Final = "server-pages.md"
SETTINGS: Final = "reference/server-settings.md"

#: Files of the repository outside docs/ that the site publishes, and where.
OUTSIDE: Final = {"README.md": "readme.md", "CHANGELOG.md": "changelog.md"}
_LINK: Final = re.compile(r"(\]\()(?P<target>[^)\s#]+)(?P<rest>[^)]*\))")


def rewrite_links(markdown: str, page_uri: str, docs_dir: Path) -> str:
    """Links from the page ``page_uri`` to files listed in :data:`OUTSIDE`, pointed at their
    pages in the site."""

    def replace(match: re.Match[str]) -> str:
        target = match["target"]
        if "://" in target or target.startswith(("/", "mailto:")):
            return match[0]
        source = (docs_dir / posixpath.dirname(page_uri) / target).resolve()
        try:
            relative = source.relative_to(ROOT).as_posix()
        except ValueError:
            return match[0]
        if relative not in OUTSIDE:
            return match[0]
        new = posixpath.relpath(OUTSIDE[relative], posixpath.dirname(page_uri) or ".")
        return f"{match[1]}{new}{match['rest']}"

    return _LINK.sub(replace, markdown)


def policy_key_page(docs_dir: Path) -> str:
    """The policy reference; raises ``ValueError`` when the prose and the model disagree."""
    keys = policy_keys.model_keys()
    prose = policy_keys.parse_prose((docs_dir / "policy.md").read_text(encoding="utf-8"))
    problems = policy_keys.check(keys, prose)
    if problems:
        raise ValueError("the policy reference is out of date:\n  " + "\n  ".join(problems))
    return policy_keys.page(keys, prose)


_SHOT: Final = re.compile(r"(?P<page>.+)-(?P<view>desktop|mobile)\.png")


def screenshot_gallery(docs_dir: Path) -> str:
    """Every screenshot the browser suite took, desktop beside mobile, by page."""
    shots: dict[str, dict[str, str]] = {}
    for path in sorted((docs_dir / "screenshots").glob("*.png")):
        match = _SHOT.fullmatch(path.name)
        if match:
            shots.setdefault(match["page"], {})[match["view"]] = path.name
    lines = [
        "# The server's pages",
        "",
        "Every page of the reference server as the browser suite saw it (`nox -s browser`",
        "takes these screenshots into `docs/screenshots`, desktop and mobile widths, French;",
        "[the browser suite](browser-suite.md) says how). [The reference server](server.md)",
        "walks through the login pages, [the operator guide](operator-guide.md) runs it.",
    ]
    for page, views in shots.items():
        title = page.replace("-", " ").replace(" id", " (one)").capitalize()
        lines += ["", f"## {title}", ""]
        for view, name in sorted(views.items()):
            width = 48 if view == "desktop" else 22
            lines.append(
                f'![{title}, {view}](screenshots/{name}){{ loading=lazy width="{width}%" }}'
            )
    return "\n".join(lines) + "\n"


def _outside(name: str, title: str) -> str:
    """A file of the repository root as a page: its links into docs/ made site-relative."""
    text = (ROOT / name).read_text(encoding="utf-8")
    text = re.sub(r"\]\(docs/", "](", text)
    text = re.sub(r"\]\((README|CHANGELOG)\.md", lambda m: f"]({m[1].lower()}.md", text)
    return f"<!-- {title}: generated from {name} at the root of the repository -->\n{text}"


def adr_index(docs_dir: Path) -> str:
    """The list of architecture decision records, from their titles."""
    lines = [
        "# Decisions",
        "",
        "Architecture decision records, each in the short form Status, Context, Decision,",
        "Consequences ([the documentation's home page](../index.md#decisions) says what each",
        "decided).",
        "",
    ]
    for path in sorted((docs_dir / "adr").glob("[0-9][0-9][0-9][0-9]-*.md")):
        title = path.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
        lines.append(f"- [{title}]({path.name})")
    return "\n".join(lines) + "\n"


def generated_pages(docs_dir: Path) -> dict[str, str]:
    """Every generated page (Markdown) and file (``openapi.json``) of the site."""
    error_codes.import_all([securebox_auth, securebox_server])
    document = openapi_pages.export_document()
    pages = {
        POLICY_KEYS: policy_key_page(docs_dir),
        ERROR_CODES: error_codes.page(error_codes.collect()),
        SETTINGS: server_settings.page(server_settings.collect()),
        GALLERY: screenshot_gallery(docs_dir),
        "adr/index.md": adr_index(docs_dir),
        "readme.md": _outside("README.md", "README"),
        "changelog.md": _outside("CHANGELOG.md", "Changelog"),
        f"{openapi_pages.FOLDER}/openapi.json": json.dumps(document, indent=1) + "\n",
    }
    pages.update(openapi_pages.pages(document))
    pages.update(api_pages.pages())
    return pages
