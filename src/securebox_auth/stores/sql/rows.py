"""What every SQL codec shares: JSON with sorted keys, UTC instants, principal keys.

Rows may come from SQLAlchemy or straight from the driver: :func:`required_instant` accepts
both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from securebox_auth.errors import MalformedInput
from securebox_auth.identity import ClientId, Principal, UserNumber
from securebox_auth.stores.sql.sqltypes import instant

__all__ = [
    "Row",
    "dumps",
    "from_iso",
    "from_iso_or_none",
    "iso",
    "iso_or_none",
    "loads",
    "principal_key",
    "principal_of",
    "required_instant",
]

Row = Mapping[Any, Any]  # a RowMapping, or a plain dict


def dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise MalformedInput(f"the stored {what} is not valid JSON") from None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def from_iso_or_none(text: str | None) -> datetime | None:
    return None if text is None else from_iso(text)


def required_instant(value: object) -> datetime:
    moment = instant(value)
    if moment is None:
        raise MalformedInput("a required time is missing")
    return moment


def principal_key(principal: Principal) -> dict[str, str]:
    """The key columns of a per-principal row."""
    return {"client_id": principal.client_id.value, "user_number": principal.user_number.value}


def principal_of(row: Row) -> Principal:
    return Principal(ClientId(row["client_id"]), UserNumber(row["user_number"]))
