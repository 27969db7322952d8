"""What the published package declares: extras a user can install, and what the wheel holds.

Building a wheel needs the network (build isolation), so the wheel itself is checked by
hand (``python3 -m pip wheel --no-deps -w /tmp/w .``); these tests read the declarations.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_only_extras_that_exist_are_published() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    # dev is a PEP 735 dependency group (not published); server is the reference server's.
    assert set(extras) == {"sql", "card", "pkcs11", "server"}
    assert any(d.startswith("pytest>=8") for d in PYPROJECT["dependency-groups"]["dev"])


def test_the_wheel_holds_the_library_and_the_server() -> None:
    wheel = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == ["src/securebox_auth", "src/securebox_server"]
    for package in wheel["packages"]:
        assert (ROOT / package / "__init__.py").is_file()
        assert (ROOT / package / "py.typed").is_file()
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]


def test_the_install_commands_use_the_group() -> None:
    for path in ("scripts/test", "noxfile.py"):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert "[dev]" not in text, path
        assert "--group" in text, path
        assert "pip>=25.1" in text, path


def test_the_server_ships_its_catalogs_templates_and_styles() -> None:
    """Non-Python files the server reads at start-up (the wheel takes a package's files)."""
    server = ROOT / "src/securebox_server"
    for lang in ("fr", "en"):
        assert (server / "locale" / lang / "LC_MESSAGES" / "messages.po").is_file()
    assert not list(server.rglob("*.mo")), "catalogs are compiled at start-up, not committed"
    assert (server / "templates" / "base.html").is_file()
    assert (server / "static" / "site.css").is_file()
