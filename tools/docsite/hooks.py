"""MkDocs hooks of the documentation site (``hooks:`` in ``mkdocs.yml``).

``on_files`` adds the generated pages before the navigation is built: the policy keys, the
error codes, the HTTP API from the server's OpenAPI document, the Python API reference,
the gallery of the browser suite's screenshots, and the README and changelog of the
repository (which live outside ``docs/``). ``on_page_markdown`` points links that leave
``docs/`` for the README or the changelog (they work on GitHub) at those pages; any other
link out of ``docs/`` is left alone, so ``mkdocs build --strict`` reports it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

TOOLS: Final = Path(__file__).resolve().parents[1]
if str(TOOLS) not in sys.path:  # mkdocs loads this file by path: make ``docsite`` importable
    sys.path.insert(0, str(TOOLS))

from docsite.site import generated_pages, rewrite_links  # noqa: E402


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    for uri, content in generated_pages(Path(config.docs_dir)).items():
        files.append(File.generated(config, uri, content=content))
    return files


def on_page_markdown(markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    return rewrite_links(markdown, page.file.src_uri, Path(config.docs_dir))


__all__ = ["on_files", "on_page_markdown"]
