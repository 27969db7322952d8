"""Every setting of the reference server, generated from its ``Settings`` dataclass.

A setting is a field of :class:`securebox_server.settings.Settings`: its TOML key is the
field's name, its environment variable ``SECUREBOX_`` and the name in capitals, its default
the field's, and its meaning the ``#:`` comment above the field (the comments are read from
the source, as Sphinx reads them).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from securebox_server import settings as server_settings

__all__ = ["Setting", "collect", "page"]

PREFIX: Final = "SECUREBOX_"
#: Settings that are tables: the environment cannot hold them.
TOML_ONLY: Final = frozenset({"rate_limits"})
_FIELD: Final = re.compile(r"^    (?P<name>[a-z_]+): ")
_COMMENT: Final = re.compile(r"^    #: ?(?P<text>.*)$")


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    environment: str
    kind: str
    default: str
    meaning: str


def _comments(cls: type) -> dict[str, str]:
    """``{field: its #: comment}`` from the class's source."""
    found: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        comment = _COMMENT.match(line)
        if comment:
            pending.append(comment["text"])
            continue
        declared = _FIELD.match(line)
        if declared and pending:
            found[declared["name"]] = " ".join(pending)
        pending = []
    return found


def _default(field: dataclasses.Field[object]) -> str:
    value = field.default
    if value is dataclasses.MISSING or value is None or value == ():
        return "none"
    if isinstance(value, Path):
        root = Path(server_settings.__file__).resolve().parents[1]
        return f"`{value.relative_to(root)}`" if value.is_relative_to(root) else f"`{value}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return ", ".join(f"`{item}`" for item in value)
    return f"`{value}`"


def collect() -> tuple[Setting, ...]:
    """Every setting, in the order of the dataclass."""
    cls = server_settings.Settings
    comments = _comments(cls)
    return tuple(
        Setting(
            name=field.name,
            environment="(TOML only)" if field.name in TOML_ONLY else PREFIX + field.name.upper(),
            kind=str(field.type).replace("|", "or"),
            default=_default(field),
            meaning=comments.get(field.name, "").replace("``", "`"),
        )
        for field in dataclasses.fields(cls)
    )


def _code(text: str) -> str:
    return text if text.startswith("(") else f"`{text}`"


def page(settings: tuple[Setting, ...]) -> str:
    lines = [
        "# Server settings",
        "",
        "Generated from `securebox_server.settings.Settings` when the site is built. The server",
        "reads `SECUREBOX_*` environment variables over an optional TOML file",
        "(`SECUREBOX_SETTINGS` or `securebox serve --settings FILE`); the environment wins. A",
        "wrong value stops the server before it binds a port. A list is a TOML array, or",
        "comma-separated in the environment; `rate_limits` is a TOML table only",
        '(`"login.source" = "30/5 minutes;300/day"`). [The operator guide](../operator-guide.md)',
        "says how to choose them.",
        "",
        "| TOML key | environment | type | default | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for setting in settings:
        lines.append(
            f'| <span id="setting-{setting.name}"></span>`{setting.name}` '
            f"| {_code(setting.environment)} | `{setting.kind}` | {setting.default} "
            f"| {setting.meaning.replace('|', chr(92) + '|')} |"
        )
    return "\n".join(lines) + "\n"
