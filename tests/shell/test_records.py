"""The end-all watermark record (``shell.records``): read as an instant, and a record that
has none fails closed with a typed error, never as "never ended"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from securebox_auth.errors import MalformedInput
from securebox_auth.shell.records import watermark_of
from securebox_auth.stores.protocols import Versioned

AT = datetime(2026, 12, 7, 9, 0, 0, 123456, tzinfo=UTC)


def test_an_absent_watermark_is_none_and_a_stored_one_its_instant() -> None:
    assert watermark_of(None) is None
    assert watermark_of(Versioned({"at": AT.isoformat()}, 3)) == AT


@pytest.mark.parametrize(
    "stored",
    [{}, {"at": None}, {"at": 5}, {"at": ""}, {"at": "yesterday"}, {"at": "2026-12-07T09:00:00"}],
)
def test_a_watermark_without_a_readable_instant_fails_closed(stored: dict[str, object]) -> None:
    with pytest.raises(MalformedInput):
        watermark_of(Versioned(stored, 1))
