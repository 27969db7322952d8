"""Hypothesis strategies for TOML documents: random ones built from every TOML type, and
structural mutations of a real document (one value replaced, a key added or removed)."""

from __future__ import annotations

import json
import math
import tomllib
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

keys = st.one_of(
    st.sampled_from(["version", "name", "event", "day", "after", "methods", "step", "operation"]),
    st.text(min_size=1, max_size=8),
)
scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, 1, -1, 2**31, 2**63 - 1, -(2**63), 10**15]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=16),
    st.sampled_from(["90s", "5m", "12h", "7d", "999999999d", "0", "login", "allow", "EUR"]),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))]),
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.dates(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(keys, values, max_size=6)


def _key(name: str) -> str:
    return json.dumps(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def dumps(document: dict[str, Any]) -> str:
    """TOML text for ``document`` (tables written inline; arrays of tables as [[name]])."""
    lines = []
    tables = []
    for name, value in document.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.append((name, value))
        else:
            lines.append(f"{_key(name)} = {_value(value)}")
    for name, rows in tables:
        for row in rows:
            lines.append(f"[[{_key(name)}]]")
            lines.extend(f"{_key(k)} = {_value(v)}" for k, v in row.items())
    return "\n".join(lines) + "\n"


@st.composite
def mutated_document(draw: st.DrawFn, text: str) -> str:
    """``text`` (a TOML document) with one to three values replaced, keys added or removed,
    anywhere in its tree."""
    document: dict[str, Any] = tomllib.loads(text)
    for _ in range(draw(st.integers(1, 3))):
        node: Any = document
        while True:  # walk down to a random table or array
            children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
            nested = [(k, v) for k, v in children if isinstance(v, dict | list) and v]
            if not nested or draw(st.booleans()):
                break
            node = draw(st.sampled_from(nested))[1]
        if isinstance(node, dict):
            action = draw(st.sampled_from(["replace", "add", "remove"]))
            if action == "add" or not node:
                node[draw(keys)] = draw(values)
            elif action == "replace":
                node[draw(st.sampled_from(sorted(node)))] = draw(values)
            else:
                del node[draw(st.sampled_from(sorted(node)))]
        elif node:
            node[draw(st.integers(0, len(node) - 1))] = draw(values)
    return dumps(document)
