"""Every stable error code, generated from the one exception hierarchy.

Each class under :class:`~securebox_auth.errors.SecureboxError`, in the library and in the
reference server, carries a ``code`` (stable: a server maps it to its answers, a portal may
test it) and an HTTP ``status_hint``; a class that does not set its own ``code`` shares its
parent's. :func:`collect` imports every module of both packages (the hierarchy is complete
only once every subclass is defined) and :func:`page` lists the codes.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType

from securebox_auth.errors import SecureboxError
from securebox_server.web.problem_codes import SERVER_CODES

__all__ = ["ErrorCode", "collect", "import_all", "page"]


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One code and the classes that raise it."""

    code: str
    status: int
    parent: str | None  #: the code of the nearest ancestor with another code
    classes: tuple[type[SecureboxError], ...]

    @property
    def anchor(self) -> str:
        return "code-" + self.code.replace("_", "-")


def import_all(packages: Iterable[ModuleType]) -> None:
    """Import every module of ``packages`` (an import error is the build's failure)."""
    for package in packages:
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(info.name)


def _subclasses(root: type[SecureboxError]) -> Iterator[type[SecureboxError]]:
    seen: set[type[SecureboxError]] = set()
    pending = [root]
    while pending:
        cls = pending.pop(0)
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        pending.extend(sorted(cls.__subclasses__(), key=lambda c: (c.__module__, c.__name__)))


def _owner(cls: type[SecureboxError]) -> type:
    """The class (``cls`` or an ancestor) that defines the code ``cls`` carries."""
    return next(ancestor for ancestor in cls.__mro__ if "code" in vars(ancestor))


def collect(root: type[SecureboxError] = SecureboxError) -> tuple[ErrorCode, ...]:
    """Every code of the hierarchy below ``root`` (included), sorted by code."""
    by_code: dict[str, list[type[SecureboxError]]] = {}
    for cls in _subclasses(root):
        if cls.__module__.startswith("tests.") or cls.__module__ == "__main__":
            continue
        by_code.setdefault(cls.code, []).append(cls)
    found: list[ErrorCode] = []
    for code, classes in by_code.items():
        owners = [cls for cls in classes if _owner(cls) is cls]
        first = owners[0] if owners else classes[0]
        parent = next(
            (base.code for base in first.__mro__[1:] if issubclass(base, SecureboxError)
             and base.code != code),
            None,
        )  # fmt: skip
        status = first.status_hint
        found.append(ErrorCode(code, status, parent, tuple(classes)))
    return tuple(sorted(found, key=lambda error: error.code))


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    first = doc.split("\n\n", 1)[0]
    return " ".join(first.split()).replace("|", "\\|")


def _name(cls: type) -> str:
    return f"`{cls.__module__}.{cls.__qualname__}`"


def page(codes: Iterable[ErrorCode]) -> str:
    """The error codes page."""
    codes = tuple(codes)
    lines = [
        "# Error codes",
        "",
        "Generated from the exception hierarchy when the site is built: every error securebox",
        "raises on purpose is a `securebox_auth.errors.SecureboxError` whose `code` is stable",
        "(ADR 0018) and whose `status_hint` is the HTTP status the reference server answers",
        "with. The server's pages show a message for people; its JSON API answers RFC 9457",
        "problem details whose `code` member is the code below ([the JSON API](../api.md)).",
        "An expected authentication failure (a wrong code, a blocked account) is not an",
        "exception but a verdict (ADR 0003), so it has no code here.",
        "",
        "| code | HTTP | kind of | raised as |",
        "| --- | --- | --- | --- |",
    ]
    for error in codes:
        classes = ", ".join(_name(cls) for cls in error.classes)
        parent = (
            f"[`{error.parent}`](#code-{error.parent.replace('_', '-')})" if error.parent else ""
        )
        lines.append(
            f'| <span id="{error.anchor}"></span>`{error.code}` | {error.status} | {parent} '
            f"| {classes} |"
        )
    lines += ["", "## What each code means", ""]
    for error in codes:
        lines += [f"### `{error.code}`", ""]
        for cls in error.classes:
            lines.append(f"- {_name(cls)} (HTTP {cls.status_hint}): {_summary(cls)}")
        lines.append("")
    lines += [
        "## The server's own codes",
        "",
        "A few answers of the reference server have no exception behind them; their codes",
        "come from `securebox_server.web.problem_codes.SERVER_CODES` (an answer with a code",
        "registered nowhere fails the test suite).",
        "",
        "| code | HTTP | meaning |",
        "| --- | --- | --- |",
    ]
    for code, known in sorted(SERVER_CODES.items()):
        anchor = "code-" + code.replace("_", "-")
        lines.append(
            f'| <span id="{anchor}"></span>`{code}` | {known.status} '
            f"| {known.meaning.replace('|', chr(92) + '|')} |"
        )
    lines.append("")
    return "\n".join(lines)
