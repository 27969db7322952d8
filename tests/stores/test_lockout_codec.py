"""stores/lockout_codec.py: the per-element failure series as JSON (ADR 0008)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import MalformedInput
from securebox_auth.lockout.rules import Element, ElementSeries
from securebox_auth.stores.lockout_codec import elements_document, elements_from_document

times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
series_lists = st.lists(
    st.builds(
        ElementSeries,
        st.sampled_from(Element),
        st.integers(0, 100),
        st.integers(0, 100),
        st.none() | times,
    ),
    unique_by=lambda s: s.element,
).map(lambda items: tuple(sorted(items, key=lambda s: list(Element).index(s.element))))


@given(series_lists)
def test_series_round_trip_through_json(elements: tuple[ElementSeries, ...]) -> None:
    text = json.dumps(elements_document(elements))
    back = elements_from_document(
        json.loads(text), failures=0, temporary_blocks=0, last_failure_at=None
    )
    assert back == elements


def test_a_state_from_before_adr_0008_gives_every_element_the_counters() -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    read = elements_from_document(None, failures=3, temporary_blocks=1, last_failure_at=at)
    assert read == tuple(ElementSeries(e, 3, 1, at) for e in Element)
    assert elements_from_document(None, failures=0, temporary_blocks=0, last_failure_at=None) == ()


def test_times_out_of_range_or_without_offset_are_malformed() -> None:
    for text in ("0001-01-01T00:00:00+01:00", "2026-03-02T10:00:00", "yesterday"):
        document = {"totp": {"failures": 1, "last_failure_at": text}}
        try:
            elements_from_document(document, failures=0, temporary_blocks=0, last_failure_at=None)
        except MalformedInput:
            continue
        raise AssertionError(f"{text!r} was accepted")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=10,
)


@given(
    st.one_of(
        json_values,
        st.dictionaries(st.sampled_from([e.value for e in Element] + ["x"]), json_values),
        st.dictionaries(
            st.sampled_from([e.value for e in Element]),
            st.dictionaries(
                st.sampled_from(["failures", "temporary_blocks", "last_failure_at"]),
                json_values | times.map(lambda t: (t + timedelta(hours=1)).isoformat()),
            ),
        ),
    )
)
def test_any_stored_document_reads_or_raises_malformed_input(document: object) -> None:
    try:
        elements = elements_from_document(
            document, failures=0, temporary_blocks=0, last_failure_at=None
        )
    except MalformedInput:
        return
    assert all(s.failures >= 0 and s.temporary_blocks >= 0 for s in elements)
