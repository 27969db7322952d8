"""Scenario files (policy/scenario.py): the format, and parse errors that name the key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from securebox_auth.errors import ScenarioError
from securebox_auth.policy import parse_scenario
from securebox_auth.policy.scenario import DEFAULT_START

from .support import BOB

HEAD = 'name = "t"\nchecks = "test"\n'


def test_times() -> None:
    scenario = parse_scenario(
        HEAD
        + "start = 2026-03-02T08:30:00Z\n"
        + '[[step]]\nevent = "wait"\nafter = "90s"\n'
        + '[[step]]\nevent = "wait"\nday = 3\n'
        + '[[step]]\nevent = "wait"\nday = 4\ntime = 17:45:00\n'
        + '[[step]]\nevent = "wait"\nafter = 60\n'
        + '[[step]]\nevent = "logout"\n'
    )
    start = scenario.steps[0].at - timedelta(seconds=90)
    assert [s.at - start for s in scenario.steps] == [
        timedelta(seconds=90),
        timedelta(days=3),
        timedelta(days=4, hours=9, minutes=15),
        timedelta(days=4, hours=9, minutes=16),
        timedelta(days=4, hours=9, minutes=16),
    ]
    assert [s.day for s in scenario.steps] == [0, 3, 4, 4, 4]
    assert parse_scenario(HEAD + '[[step]]\nevent = "logout"\n').steps[0].at == DEFAULT_START


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ('name = "t"\n[[step]]\nevent = "logout"\n', "checks"),
        (HEAD + 'colour = 1\n[[step]]\nevent = "logout"\n', "colour"),
        (HEAD, "step"),
        (HEAD + 'start = 2026-01-01T00:00:00\n[[step]]\nevent = "logout"\n', "start"),
        (HEAD + 'principal = "x"\n[[step]]\nevent = "logout"\n', "principal"),
        (HEAD + '[[step]]\nevent = "dance"\n', "step[1].event"),
        (HEAD + '[[step]]\nevent = "logout"\nmethods = ["cap_sign"]\n', "step[1].methods"),
        (HEAD + '[[step]]\nevent = "login"\n', "step[1].methods"),
        (HEAD + '[[step]]\nevent = "login"\nmethods = ["cap"]\n', "step[1].methods[0]"),
        (
            HEAD + '[[step]]\nevent = "login"\nmethods = ["cap_sign"]\nexpect = "ok"\n',
            "step[1].expect",
        ),
        (HEAD + '[[step]]\nevent = "failure"\nexpect = "allow"\n', "step[1].expect"),
        (HEAD + '[[step]]\nevent = "failure"\npath = "fax"\n', "step[1].path"),
        (HEAD + '[[step]]\nevent = "failure"\nalert = "loud"\n', "step[1].alert"),
        (HEAD + '[[step]]\nevent = "wait"\n', "step[1]"),
        (HEAD + '[[step]]\nevent = "wait"\nday = -1\n', "step[1].day"),
        (HEAD + '[[step]]\nevent = "wait"\ntime = 10:00:00\n', "step[1].time"),
        (HEAD + '[[step]]\nevent = "wait"\nafter = "1 week"\n', "step[1].after"),
        (
            HEAD + '[[step]]\nevent = "wait"\nday = 2\n[[step]]\nevent = "wait"\nday = 1\n',
            "step[2]",
        ),
        (HEAD + '[[step]]\nevent = "operation"\n', "step[1].operation"),
        (
            HEAD + '[[step]]\nevent = "operation"\noperation = "x"\namount = 10.5\npayee = "a"\n',
            "step[1].amount",
        ),
        (HEAD + '[[step]]\nevent = "operation"\noperation = "x"\namount = "10"\n', "step[1].payee"),
        (
            HEAD + '[[step]]\nevent = "operation"\noperation = "x"\nbatch = [{payee = "a"}]\n',
            "step[1].batch[0]",
        ),
        (
            HEAD + '[[step]]\nevent = "operation"\noperation = "x"\n'
            'payee = "FR7630006000011234567890188"\n',
            "step[1]",
        ),
        (HEAD + '[[step]]\nevent = "logout"\nprincipal = "1:2:3"\n', "step[1].principal"),
        ("[[step]", ""),
    ],
)
def test_parse_errors_name_the_key(document: str, path: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(document)
    assert caught.value.path == path


def test_other_principal() -> None:
    scenario = parse_scenario(
        HEAD + f'[[step]]\nevent = "login"\nprincipal = "{BOB}"\nmethods = ["cap_identify"]\n'
    )
    assert scenario.steps[0].principal == BOB
    assert scenario.steps[0].describe() == f"login cap_identify by {BOB}"
