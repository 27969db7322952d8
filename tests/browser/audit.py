"""axe-core on every page the suite visits: the npm package's ``axe.min.js``, read from a
local folder (never a CDN) and added to every page of a browser context as an init script
(the DevTools protocol adds it before the page's own scripts; the server's CSP does not
apply to it). :meth:`Auditor.check` runs it on the page shown; serious and critical
violations fail the test, and :meth:`Auditor.write` leaves a JSON and a Markdown report.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from playwright.sync_api import Page

__all__ = ["AXE_FILE", "Auditor", "axe_source"]

ROOT: Final = Path(__file__).resolve().parents[2]
#: Where ``npm install --prefix .cache/axe axe-core@4`` puts it (``SECUREBOX_AXE`` overrides).
AXE_FILE: Final = Path(
    os.environ.get("SECUREBOX_AXE", ROOT / ".cache/axe/node_modules/axe-core/axe.min.js")
)
BLOCKING: Final = frozenset({"serious", "critical"})
#: WCAG 2.0, 2.1 and 2.2 A and AA, and axe's best practices.
TAGS: Final = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_source() -> str:
    if not AXE_FILE.is_file():
        raise RuntimeError(
            f"axe-core is not at {AXE_FILE}: npm install --prefix .cache/axe axe-core@4"
            " (or set SECUREBOX_AXE to its axe.min.js)"
        )
    return AXE_FILE.read_text(encoding="utf-8")


@dataclass
class Auditor:
    """Every page checked: (path, language) -> its violations (id, impact, help, nodes)."""

    pages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def check(self, page: Page, name: str) -> list[dict[str, Any]]:
        """Run axe on ``page`` (reported as ``name``); the blocking violations."""
        result: dict[str, Any] = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
        )
        lang = page.evaluate("document.documentElement.lang")
        violations = [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "url": v["helpUrl"],
                "nodes": [n["target"] for n in v["nodes"]][:10],
            }
            for v in result["violations"]
        ]
        key = f"{name} [{lang}]"
        self.pages[key] = {
            "page": name,
            "lang": lang,
            "passes": len(result["passes"]),
            "incomplete": len(result["incomplete"]),
            "violations": violations,
        }
        return [v for v in violations if v["impact"] in BLOCKING]

    def write(self, folder: Path, axe_version: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        report = {"axe": axe_version, "tags": TAGS, "pages": dict(sorted(self.pages.items()))}
        (folder / "accessibility.json").write_text(json.dumps(report, indent=2), "utf-8")
        lines = [
            "# Accessibility report (axe-core)",
            "",
            f"axe-core {axe_version}, rules tagged {', '.join(TAGS)}; serious and critical",
            "violations fail the suite.",
            "",
            "| page | lang | passes | violations (impact) |",
            "|---|---|---|---|",
        ]
        for key in sorted(self.pages):
            p = self.pages[key]
            found = ", ".join(f"{v['id']} ({v['impact']})" for v in p["violations"]) or "none"
            lines.append(f"| `{p['page']}` | {p['lang']} | {p['passes']} | {found} |")
        (folder / "accessibility.md").write_text("\n".join(lines) + "\n", "utf-8")
