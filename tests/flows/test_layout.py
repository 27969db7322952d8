"""The pure flows import nothing from the stores, the shell, the cards or the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

FLOWS = Path(__file__).resolve().parents[2] / "src" / "securebox_auth" / "flows"
FORBIDDEN = ("securebox_auth.stores", "securebox_auth.shell", "securebox_auth.cards")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
    return found


def test_the_flows_are_pure() -> None:
    files = sorted(FLOWS.glob("*.py"))
    assert files
    for path in files:
        for name in _imports(path):
            assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"
            assert "cli" not in name.split("."), f"{path.name} imports {name}"
            assert name.split(".")[0] not in {"sqlalchemy", "socket", "requests", "time"}
