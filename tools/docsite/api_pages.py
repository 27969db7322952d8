"""The Python API reference pages: mkdocstrings directives for the public modules.

The public import is ``securebox_auth`` (its ``__all__``, ADR 0018); each area of the
library (``policy``, ``factors``, ``flows``, ...) gets a page with the modules of that area
that declare an ``__all__``, the modules' docstrings first. Private modules (a leading
underscore) and the command line (documented in docs/cli.md) are left out.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Final

__all__ = ["FOLDER", "areas", "pages"]

FOLDER: Final = "reference/python"
ROOT_PACKAGE: Final = "securebox_auth"
#: Areas documented elsewhere: the command line has its own page (docs/cli.md).
LEFT_OUT: Final = frozenset({"cli"})


def _public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def _declares_all(name: str) -> bool:
    return bool(getattr(importlib.import_module(name), "__all__", ()))


def areas() -> dict[str, list[str]]:
    """``{area: [modules with an __all__]}``: the packages and top-level modules of the
    library (a top-level module is its own area)."""
    package = importlib.import_module(ROOT_PACKAGE)
    found: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(package.__path__, f"{ROOT_PACKAGE}."):
        area = info.name.rsplit(".", 1)[1]
        if not _public(area) or area in LEFT_OUT:
            continue
        modules = [info.name] if _declares_all(info.name) else []
        if info.ispkg:
            sub = importlib.import_module(info.name)
            modules += [
                child.name
                for child in pkgutil.walk_packages(sub.__path__, f"{info.name}.")
                if _public(child.name) and _declares_all(child.name)
            ]
        if modules:
            found[area] = modules
    return found


_OPTIONS: Final = """    options:
      show_root_heading: true
      show_submodules: false
      members_order: source"""


def pages() -> dict[str, str]:
    """``{path in the site: Markdown}`` of the reference pages."""
    found = areas()
    index = [
        "# Python API reference",
        "",
        "Generated from the docstrings when the site is built. Import the public names from",
        "`securebox_auth` itself ([the public import](securebox_auth.md)); the pages of each",
        "area document the modules behind them. What is stable is said in",
        "[Stability](../../stability.md).",
        "",
        "| area | modules |",
        "| --- | --- |",
        "| [the public import](securebox_auth.md) | `securebox_auth` |",
    ]
    out = {
        f"{FOLDER}/securebox_auth.md": (
            "# The public import: `securebox_auth`\n\n"
            f"::: securebox_auth\n{_OPTIONS}\n      show_root_heading: false\n"
            "      members: false\n\n"
            "Every name of `securebox_auth.__all__` is documented on the page of the module "
            "that defines it ([index](index.md)).\n"
        ),
    }
    for area, modules in sorted(found.items()):
        body = [f"# `{ROOT_PACKAGE}.{area}`", ""]
        for module in modules:
            body += [f"::: {module}", _OPTIONS, ""]
        out[f"{FOLDER}/{area}.md"] = "\n".join(body)
        names = ", ".join(f"`{module}`" for module in modules)
        index.append(f"| [{area}]({area}.md) | {names} |")
    out[f"{FOLDER}/index.md"] = "\n".join(index) + "\n"
    return out
