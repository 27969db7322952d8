"""The per-element failure series of a :class:`~securebox_auth.lockout.rules.LockoutState` as a JSON
document, shared by the SQL store (the ``lockouts.elements`` column) and the card files.

The document maps an element's name to its series::

    {"totp": {"failures": 2, "last_failure_at": "2026-12-04T10:00:00.000000+00:00",
              "temporary_blocks": 1}}

A state stored before ADR 0008 has no such document (``None``): its combined counters could
have come from any element, so :func:`elements_from_document` gives *every* element a series
with those counters. That is conservative: no element gets more tries than the old state
allowed, and each element's success clears its own copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from securebox_auth.errors import MalformedInput
from securebox_auth.lockout.rules import Element, ElementSeries

__all__ = ["elements_document", "elements_from_document"]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="microseconds")


def _instant(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedInput("a stored failure time is not text")
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise MalformedInput("a stored failure time has no offset")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise MalformedInput("a stored failure time is not an ISO 8601 instant") from None


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedInput("a stored failure count is not a non-negative integer")
    return value


def elements_document(elements: tuple[ElementSeries, ...]) -> dict[str, Any]:
    return {
        series.element.value: {
            "failures": series.failures,
            "temporary_blocks": series.temporary_blocks,
            "last_failure_at": _iso(series.last_failure_at),
        }
        for series in elements
    }


def elements_from_document(
    document: object,
    *,
    failures: int,
    temporary_blocks: int,
    last_failure_at: datetime | None,
) -> tuple[ElementSeries, ...]:
    """The series in ``document``; for ``None`` (a state stored before ADR 0008), every
    element with the combined counters ``failures`` and ``temporary_blocks``."""
    if document is None:
        if failures == 0 and temporary_blocks == 0:
            return ()
        return tuple(
            ElementSeries(element, failures, temporary_blocks, last_failure_at)
            for element in Element
        )
    if not isinstance(document, Mapping):
        raise MalformedInput("the stored failure series are not a JSON object")
    found: dict[Element, ElementSeries] = {}
    for name, series in document.items():
        try:
            element = Element(name)
        except ValueError:
            raise MalformedInput(f"unknown authentication element {name!r}") from None
        if not isinstance(series, Mapping):
            raise MalformedInput("a stored failure series is not a JSON object")
        found[element] = ElementSeries(
            element,
            _count(series.get("failures", 0)),
            _count(series.get("temporary_blocks", 0)),
            _instant(series.get("last_failure_at")),
        )
    return tuple(found[element] for element in Element if element in found)
