"""Every TOML key of a policy file, generated from the policy model.

The model is the authority for which keys exist, their TOML type and their default: the
keys are those :func:`~securebox_auth.policy.writer.to_toml` writes (the normalised form
holds every key) for a policy with one renewal channel and one sensitive operation, the
types come from the annotations of the dataclass each table builds, and the defaults are
the values written. The prose (what a key allows and means) is written once, in the tables
of ``docs/policy.md`` ("TOML reference"), which GitHub readers see too; this module reads
it, and :func:`check` refuses a key the model has and the prose lacks, a row for a key the
model does not have, and a default in the prose that differs from the model's.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from securebox_auth.policy.model import OperationRule, Policy, Renewal, RenewalRule
from securebox_auth.policy.writer import FORMAT_VERSION, to_toml

__all__ = ["PolicyKey", "ProseRow", "check", "model_keys", "page", "parse_prose"]

#: The placeholder of the tables named by the user (a channel, an operation).
NAME: Final = "NAME"

#: The heading of the prose section in docs/policy.md that documents the keys.
PROSE_SECTION: Final = "## TOML reference"


@dataclass(frozen=True, slots=True)
class PolicyKey:
    """One key of a policy file, as the model defines it."""

    table: str  #: ``""`` (top level), ``"lockout"``, ``"renewal.channel.NAME"``, ...
    name: str
    kind: str  #: the TOML type, for people: ``integer``, ``duration``, ``one of: a, b``, ...
    default: object  #: the default, as the normalised form writes it

    @property
    def path(self) -> str:
        """The dotted path a :class:`~securebox_auth.errors.PolicyError` names."""
        return f"{self.table}.{self.name}" if self.table else self.name

    @property
    def anchor(self) -> str:
        return "key-" + re.sub(r"[^a-z0-9_]+", "-", self.path.lower()).strip("-")


@dataclass(frozen=True, slots=True)
class ProseRow:
    """One row of a key table of docs/policy.md."""

    table: str
    name: str
    default: str
    allowed: str
    meaning: str


def _example() -> Policy:
    """A policy whose normalised form holds every table and key the loader reads."""
    return Policy(
        renewal=Renewal(channels=((NAME, RenewalRule()),)),
        operations=(OperationRule(name=NAME),),
    )


def _classes() -> dict[str, type]:
    """The dataclass each table builds, from the annotations of :class:`Policy`."""
    hints = typing.get_type_hints(Policy)
    found: dict[str, type] = {"": Policy}
    for field in dataclasses.fields(Policy):
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            found[field.name] = hint
    found[f"renewal.channel.{NAME}"] = RenewalRule
    found[f"operation.{NAME}"] = OperationRule
    return found


def _kind(hint: object) -> str:
    """The TOML type of a field, for people."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [_kind(arg) for arg in args if arg is not type(None)]
        return " or ".join(kinds)
    if hint is bool:
        return "boolean"
    if hint is int:
        return "integer"
    if hint is str:
        return "text"
    if hint is timedelta:
        return "duration"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "one of: " + ", ".join(f'"{member.value}"' for member in hint)
    if typing.get_origin(hint) is tuple and args and args[0] is str:
        return "list of names"
    raise TypeError(f"no TOML type for {hint!r}")  # pragma: no cover: a new field type


def _tables(
    data: Mapping[str, object], prefix: str = ""
) -> Iterator[tuple[str, dict[str, object]]]:
    """``(table path, its plain keys)`` for every table of a parsed document, in order."""
    plain = {k: v for k, v in data.items() if not isinstance(v, dict)}
    yield prefix, plain
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _tables(value, f"{prefix}.{key}" if prefix else key)


def model_keys() -> tuple[PolicyKey, ...]:
    """Every key of a policy file, in the order of the normalised form."""
    classes = _classes()
    keys: list[PolicyKey] = []
    for table, values in _tables(tomllib.loads(to_toml(_example()))):
        if not values:
            continue  # a table that only holds tables ("renewal.channel", "operation")
        cls = classes[table]
        hints = typing.get_type_hints(cls)
        for name, value in values.items():
            if table == "" and name == "version":
                kind = f"integer ({FORMAT_VERSION})"
            elif name == "max_temporary_blocks":
                kind = 'integer or "never"'  # ``int | None``: None is written "never"
            else:
                kind = _kind(hints[name])
            keys.append(PolicyKey(table, name, kind, value))
    return tuple(keys)


_TABLE_HEADING: Final = re.compile(r"^### (?P<title>.+)$")
_BRACKETED: Final = re.compile(r"`\[(?P<table>[a-z_.A-Z]+)\]`")
_ROW: Final = re.compile(r"^\|(?P<cells>.*)\|\s*$")


def _heading_table(title: str) -> str | None:
    """The table a "### " heading of the TOML reference documents (its first ``[table]``)."""
    if title.strip().lower() == "top level":
        return ""
    match = _BRACKETED.search(title)
    return match["table"] if match else None


def parse_prose(markdown: str) -> tuple[ProseRow, ...]:
    """The key rows of the "TOML reference" section of docs/policy.md."""
    try:
        section = markdown.split(f"\n{PROSE_SECTION}\n", 1)[1]
    except IndexError:
        raise ValueError(f"docs/policy.md has no {PROSE_SECTION!r} section") from None
    section = re.split(r"\n## ", section, maxsplit=1)[0]
    rows: list[ProseRow] = []
    table: str | None = None
    header: list[str] = []
    for line in section.splitlines():
        heading = _TABLE_HEADING.match(line)
        if heading:
            table, header = _heading_table(heading["title"]), []
            continue
        row = _ROW.match(line)
        if row is None or table is None:
            continue
        cells = [cell.strip() for cell in row["cells"].split(" | ")]
        if not header:
            header = [cell.lower() for cell in cells]
            continue
        if set(cells[0]) <= {"-", " ", ":"}:
            continue  # the delimiter row
        cell = dict(zip(header, cells, strict=True))
        rows.append(
            ProseRow(
                table=table,
                name=cell["key"].strip("`"),
                default=cell.get("default", ""),
                allowed=cell.get("allowed", ""),
                meaning=cell.get("meaning", ""),
            )
        )
    return tuple(rows)


def _prose_default(text: str) -> object | None:
    """The value of a default cell that starts with a TOML literal in backticks, else None."""
    match = re.match(r"`(?P<literal>[^`]+)`", text)
    if match is None:
        return None
    try:
        value: object = tomllib.loads(f"v = {match['literal']}")["v"]
    except tomllib.TOMLDecodeError:
        return None
    return value


def _prose_table(table: str) -> str:
    """The table heading the prose uses for a model table (``renewal.channel.NAME`` is
    documented with ``[renewal]``, ``operation.NAME`` under ``[operation.NAME]``)."""
    return "renewal" if table == f"renewal.channel.{NAME}" else table


def check(keys: tuple[PolicyKey, ...], prose: tuple[ProseRow, ...]) -> list[str]:
    """What is wrong between the model's keys and the prose (empty when they agree)."""
    problems: list[str] = []
    rows = {(row.table, row.name): row for row in prose}
    wanted = {(_prose_table(key.table), key.name) for key in keys}
    for key in keys:
        row = rows.get((_prose_table(key.table), key.name))
        if row is None:
            problems.append(f"{key.path}: in the model, not in docs/policy.md's TOML reference")
            continue
        written = _prose_default(row.default)
        if written is not None and written != key.default:
            problems.append(
                f"{key.path}: docs/policy.md says the default is {row.default}, the model "
                f"writes {key.default!r}"
            )
    problems.extend(
        f"{table or '(top level)'}.{name}: in docs/policy.md, not in the model"
        for table, name in rows
        if (table, name) not in wanted
    )
    return problems


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


_RELATIVE_LINK: Final = re.compile(r"\]\((?!https?://|#|/)")


def _from_reference(text: str) -> str:
    """A prose cell of docs/policy.md, its relative links made relative to reference/."""
    return _RELATIVE_LINK.sub("](../", text)


def _header(table: str) -> str:
    return "Top level" if table == "" else f"`[{table}]`"


def page(keys: tuple[PolicyKey, ...], prose: tuple[ProseRow, ...]) -> str:
    """The reference page: one section per table, one row per key."""
    rows = {(row.table, row.name): row for row in prose}
    lines = [
        "# Policy reference: every TOML key",
        "",
        "This page is generated from the policy model when the site is built (the keys, their",
        "types and their defaults come from `securebox_auth.policy`; what each one allows and",
        "means from the tables of [the policy page](../policy.md#toml-reference)). A key left",
        "out takes the default below, which is the `psd2-default` profile; an unknown key is an",
        "error (`policy_invalid`) whose path is the key's dotted path. Durations are whole",
        'seconds or text with one unit: `"90s"`, `"5m"`, `"12h"`, `"7d"`. `NAME` stands for a',
        "name you choose (an access channel, an operation).",
        "",
        "`securebox policy show POLICY` writes every key of a policy, and",
        "`securebox policy lint POLICY` checks it against PSD2 RTS, NIST SP 800-63B-4 and",
        "OWASP ASVS 5.0 ([the security teams' guide](../security-teams.md)).",
    ]
    table: str | None = None
    for key in keys:
        if key.table != table:
            table = key.table
            lines += [
                "",
                f"## {_header(table)}",
                "",
                "| key | path | type | default | allowed | meaning |",
                "| --- | --- | --- | --- | --- | --- |",
            ]
        row = rows.get((_prose_table(key.table), key.name))
        allowed = _from_reference(row.allowed) if row else ""
        meaning = _from_reference(row.meaning) if row else ""
        lines.append(
            f'| <span id="{key.anchor}"></span>`{key.name}` | `{key.path}` | {_cell(key.kind)} '
            f"| `{_cell(_literal(key.default))}` | {_cell(allowed) if allowed else ''} "
            f"| {meaning} |"
        )
    return "\n".join(lines) + "\n"
