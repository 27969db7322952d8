"""MkDocs hooks of the documentation site (``hooks:`` in ``mkdocs.yml``).

``on_files`` adds the generated pages before the navigation is built: the policy keys, the
error codes, the HTTP API from the server's OpenAPI document, the Python API reference,
the gallery of the browser suite's screenshots, and the README and changelog of the
repository (which live outside ``docs/``). ``on_page_markdown`` points links that leave
``docs/`` for the README or the changelog (they work on GitHub) at those pages; any other
link out of ``docs/`` is left alone, so ``mkdocs build --strict`` reports it.
"""

from __future__ import annotations

import posixpath
import re
import sys
from pathlib import Path
from typing import Final

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

TOOLS: Final = Path(__file__).resolve().parents[1]
if str(TOOLS) not in sys.path:  # mkdocs loads this file by path: make ``docsite`` importable
    sys.path.insert(0, str(TOOLS))

from docsite.site import ROOT, generated_pages  # noqa: E402

#: Files of the repository outside docs/ that the site publishes, and where.
OUTSIDE: Final = {"README.md": "readme.md", "CHANGELOG.md": "changelog.md"}
_LINK: Final = re.compile(r"(\]\()(?P<target>[^)\s#]+)(?P<rest>[^)]*\))")


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    for uri, content in generated_pages(Path(config.docs_dir)).items():
        files.append(File.generated(config, uri, content=content))
    return files


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


def on_page_markdown(markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    return rewrite_links(markdown, page.file.src_uri, Path(config.docs_dir))


__all__ = ["on_files", "on_page_markdown", "rewrite_links"]
