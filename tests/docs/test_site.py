"""The documentation site builds with warnings as errors, and its search finds every
factor, every policy key and every error code.

It builds the whole site (about a minute on a loaded machine), so it is marked ``docsite``
and left out of the default run: ``python3 -m pytest -m docsite tests/docs`` after
``python3 -m pip install -e ".[server]" --group docs`` (``nox -s docs`` runs it).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docsite import error_codes, policy_keys

import securebox_auth
import securebox_server
from securebox_auth.factors.methods import METHODS

pytestmark = pytest.mark.docsite

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(  # noqa: S603 (our own command line)
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def words(site: Path) -> set[str]:
    """The words search can find: the search index tokenised with the site's separator."""
    index = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    separator = re.compile(index["config"]["separator"])
    found: set[str] = set()
    for doc in index["docs"]:
        text = html.unescape(re.sub(r"<[^>]+>", " ", f"{doc['title']} {doc['text']}"))
        found.update(word.lower() for word in separator.split(text) if word)
    return found


def test_search_finds_every_factor(words: set[str]) -> None:
    assert set(METHODS) - words == set()
    for factor in ("cap", "totp", "passkey", "certificate", "sms", "recovery"):
        assert factor in words


def test_search_finds_every_policy_key(words: set[str]) -> None:
    keys = policy_keys.model_keys()
    assert {key.name.lower() for key in keys} - words == set()
    # a dotted path is split by the separator, so each of its parts is found too
    assert {part.lower() for key in keys for part in key.path.split(".")} - words == set()


def test_search_finds_every_error_code(words: set[str]) -> None:
    error_codes.import_all([securebox_auth, securebox_server])
    assert {error.code for error in error_codes.collect()} - words == set()


def test_the_site_works_offline(site: Path) -> None:
    """No page loads a script, a style or a font from elsewhere (no CDN)."""
    remote = re.compile(r"""<(?:script|link)[^>]+(?:src|href)=["']https?://""", re.I)
    pages = list(site.glob("**/*.html"))
    assert len(pages) > 100
    offenders = [p.relative_to(site) for p in pages if remote.search(p.read_text("utf-8"))]
    assert offenders == []


def test_the_generated_pages_are_built(site: Path) -> None:
    assert (site / "http-api" / "openapi.json").is_file()
    assert json.loads((site / "http-api" / "openapi.json").read_text())["openapi"].startswith("3.")
    assert "lockout.max_failures" in (site / "reference" / "policy-keys.html").read_text()
    assert "policy_invalid" in (site / "reference" / "error-codes.html").read_text()
    assert "decide_login" in (site / "reference" / "python" / "policy.html").read_text()
    assert "screenshots/home-desktop.png" in (site / "server-pages.html").read_text()
