"""Fuzzing the policy and scenario readers: random TOML documents made of every TOML type,
mutations of the shipped files, and bytes that are not TOML or not UTF-8. Only
:class:`~securebox_auth.errors.SecureboxError` may come out."""

from __future__ import annotations

import contextlib
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.errors import PolicyError, ScenarioError, SecureboxError
from securebox_auth.policy import from_toml, parse_scenario
from securebox_auth.policy.book import PolicyBook
from securebox_auth.policy.loader import load_policy
from securebox_auth.policy.model import Policy
from tests.fuzzing import fuzz
from tests.toml_strategies import documents, dumps, mutated_document

pytestmark = pytest.mark.fuzz
ROOT = Path(__file__).resolve().parents[2] / "src" / "securebox_auth" / "policies"
POLICIES = [p.read_text() for p in sorted(ROOT.glob("*.toml"))]
SCENARIOS = [p.read_text() for p in sorted((ROOT / "scenarios").rglob("*.toml"))]


def _typed_only(call: Any, *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(SecureboxError):
        call(*args, **kwargs)


def test_the_shipped_files_are_read() -> None:
    assert POLICIES
    assert SCENARIOS
    for text in POLICIES:
        from_toml(text)
    for text in SCENARIOS:
        parse_scenario(text)


@fuzz(60)
@given(document=documents)
def test_random_policy_documents(document: dict[str, Any]) -> None:
    _typed_only(from_toml, dumps(document))


@fuzz(100)
@given(data=st.data(), index=st.integers(0, 100))
def test_mutated_policies(data: st.DataObject, index: int) -> None:
    text = data.draw(mutated_document(POLICIES[index % len(POLICIES)]))
    _typed_only(from_toml, text)


@fuzz(60)
@given(document=documents)
def test_random_scenario_documents(document: dict[str, Any]) -> None:
    _typed_only(parse_scenario, dumps(document))


@fuzz(100)
@given(data=st.data(), index=st.integers(0, 100))
def test_mutated_scenarios(data: st.DataObject, index: int) -> None:
    text = data.draw(mutated_document(SCENARIOS[index % len(SCENARIOS)]))
    _typed_only(parse_scenario, text)


@fuzz(100)
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_bytes_and_text(raw: bytes | str) -> None:
    _typed_only(from_toml, raw)
    _typed_only(parse_scenario, raw)


@pytest.mark.parametrize("read", [from_toml, parse_scenario])
@pytest.mark.parametrize("raw", [b"name = \xff\n", "\ud800", None, 42, ["x"]])
def test_undecodable_or_wrongly_typed_documents_are_typed_errors(read: Any, raw: Any) -> None:
    with pytest.raises((PolicyError, ScenarioError)):
        read(raw)


def test_a_list_as_event_is_a_scenario_error() -> None:
    text = 'checks = "x"\n[[step]]\nevent = [1, 2, 3]\n'
    with pytest.raises(ScenarioError, match=r"step\[1\]\.event"):
        parse_scenario(text)


@pytest.mark.parametrize(
    "text",
    [
        'checks = "x"\n[[step]]\nevent = "wait"\nday = 99999999999\n',
        'checks = "x"\n[[step]]\nevent = "wait"\nafter = 9223372036854775807\n',
        'checks = "x"\nstart = 9999-12-31T23:00:00Z\n[[step]]\nevent = "wait"\nafter = "2h"\n',
    ],
)
def test_times_beyond_the_calendar_are_scenario_errors(text: str) -> None:
    with pytest.raises(ScenarioError):
        parse_scenario(text)


@pytest.mark.parametrize("value", ["9223372036854775807", '"999999999d"'])
def test_durations_beyond_the_calendar_are_policy_errors(value: str) -> None:
    with pytest.raises(PolicyError, match=r"session\.idle_timeout"):
        from_toml(f"[session]\nidle_timeout = {value}\n")


def test_a_policy_file_that_is_not_utf8(tmp_path: Path) -> None:
    file = tmp_path / "p.toml"
    file.write_bytes(b'name = "\xe9"\n')
    with pytest.raises(PolicyError, match="UTF-8"):
        load_policy(file)


@pytest.mark.parametrize("subscriptions", [[1, 2], "x", {1: 2}, None])
def test_a_policy_book_checks_its_types(subscriptions: Any) -> None:
    with pytest.raises(SecureboxError):
        PolicyBook(Policy(), subscriptions)


def test_roundtrip_of_the_toml_writer_used_by_the_fuzzer() -> None:
    document = {"a": [1, "x", {"b": True}], "step": [{"event": "wait", "day": 1}]}
    assert tomllib.loads(dumps(document)) == document
