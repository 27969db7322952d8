"""factors/code_strength.py: which new confidential codes are refused, and why."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from datetime import timedelta

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from securebox_auth.errors import ConfigurationError, InvalidCode, WeakCode
from securebox_auth.factors.code_strength import (
    MAX_CODE_LENGTH,
    CodeRules,
    generate_code,
    require_strong,
    strength_problems,
    validate_code_syntax,
)

#: Full-width digits (U+FF10..U+FF19): digits to Unicode, not to the formats.
FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))

RULES = CodeRules()
IDS = ("583920", "0417")  # a client identifier and a user number
DIGITS = "0123456789"
CLIENT_IDS = st.text(alphabet=DIGITS, min_size=6, max_size=12)
USER_NUMBERS = st.text(alphabet=DIGITS, min_size=1, max_size=4)


# -- each reason code ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reasons"),
    [
        ("47120938", ()),
        ("58301917", ()),
        ("47111093", ()),  # three equal digits in a row are allowed
        ("4712093", ("length",)),
        ("471209385", ("length",)),
        ("11111111", ("all_same",)),
        ("11119375", ("repeated_digits",)),
        ("12345678", ("sequence",)),
        ("87654321", ("sequence",)),
        ("45678123", ("sequence",)),  # a run of five inside the code
        ("78901234", ("sequence",)),  # wraps 9 -> 0
        ("21098765", ("sequence",)),  # wraps 0 -> 9 going down
        ("01234567", ("sequence",)),
        ("12121212", ("pattern",)),
        ("12341234", ("pattern",)),
        ("12312312", ("pattern",)),  # a block that does not divide the length
        ("25121990", ("date",)),  # DDMMYYYY
        ("12251990", ("date",)),  # MMDDYYYY
        ("19900512", ("date",)),  # YYYYMMDD
        ("58392047", ("identifier",)),  # contains the client identifier
        ("73041795", ("identifier",)),  # contains the user number
    ],
)
def test_reason_codes(code: str, reasons: tuple[str, ...]) -> None:
    assert strength_problems(code, RULES, IDS) == reasons


def test_several_reasons_are_all_reported() -> None:
    problems = strength_problems("1234567", RULES, IDS)
    assert problems == ("length", "sequence")


@pytest.mark.parametrize(
    ("code", "is_date"), [("251290", True), ("122590", True), ("901225", True), ("310299", False)]
)
def test_six_digit_dates(code: str, is_date: bool) -> None:
    rules = CodeRules(length=6)
    assert ("date" in strength_problems(code, rules)) is is_date


def test_dates_can_be_allowed() -> None:
    assert strength_problems("25121990", CodeRules(refuse_dates=False)) == ()


def test_a_code_inside_a_longer_identifier_is_refused() -> None:
    assert strength_problems("58392041", RULES, ("9583920417",)) == ("identifier",)


def test_short_identifiers_are_ignored() -> None:
    # the user number 01 is too short to be refused inside a code
    assert strength_problems("58301917", RULES, ("01",)) == ()
    rules = CodeRules(min_identifier_overlap=2)
    assert strength_problems("58301917", rules, ("01",)) == ("identifier",)


def test_identifier_separators_are_ignored() -> None:
    assert strength_problems("58392047", RULES, ("583 920",)) == ("identifier",)


def test_rules_change_the_limits() -> None:
    assert strength_problems("11119375", CodeRules(max_repeat=4)) == ()
    assert strength_problems("45678123", CodeRules(max_sequence=5)) == ()
    assert strength_problems("47120938", CodeRules(max_sequence=2)) == ()
    assert strength_problems("47123938", CodeRules(max_sequence=2)) == ("sequence",)


def test_require_strong_raises_weak_code_without_the_code() -> None:
    assert require_strong("47120938", RULES, IDS) == "47120938"
    with pytest.raises(WeakCode) as exc:
        require_strong("58392047", RULES, IDS)
    assert exc.value.reasons == ("identifier",)
    assert "58392047" not in str(exc.value)
    assert "client identifier" in str(exc.value)
    assert exc.value.code == "weak_code"


def test_messages_exist_for_every_reason() -> None:
    for reason in (
        "length",
        "all_same",
        "repeated_digits",
        "sequence",
        "pattern",
        "date",
        "identifier",
        "previous_code",
    ):
        assert RULES.message(reason)
    assert "8" in RULES.message("length")
    assert "5" in RULES.message("previous_code")


# -- syntax -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        None,
        12345678,
        b"12345678",
        "",
        "1234 5678",
        "1234567a",
        "12345678".translate(FULLWIDTH),
        "٣٣٣٣",
        "1" * (MAX_CODE_LENGTH + 1),
    ],
)
def test_syntax_refuses_non_digits(code: object) -> None:
    with pytest.raises(InvalidCode) as exc:
        validate_code_syntax(code)
    if isinstance(code, str) and code:
        assert code not in str(exc.value)


def test_syntax_accepts_any_digit_string_up_to_the_maximum() -> None:
    assert validate_code_syntax("0") == "0"
    assert validate_code_syntax("9" * MAX_CODE_LENGTH) == "9" * MAX_CODE_LENGTH


def test_strength_check_validates_syntax_first() -> None:
    with pytest.raises(InvalidCode):
        strength_problems("1234abcd", RULES)


# -- rules validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"length": 3},
        {"length": 17},
        {"history": -1},
        {"history": 25},
        {"max_repeat": 0},
        {"max_repeat": 8},
        {"max_sequence": 1},
        {"max_sequence": 8},
        {"length": 6, "max_sequence": 6},
        {"min_identifier_overlap": 1},
        {"one_time_code_lifetime": timedelta(minutes=4)},
        {"one_time_code_lifetime": timedelta(days=31)},
    ],
)
def test_invalid_rules_are_configuration_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        CodeRules(**kwargs)  # type: ignore[arg-type]


# -- properties --------------------------------------------------------------------------


def trivially_weak(code: str, identifiers: Sequence[str]) -> bool:
    """Weak by any reasonable standard, written independently of the module under test."""
    n = len(code)
    if len(set(code)) == 1:
        return True
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(code)}
    if steps in ({1}, {9}):  # the whole code is one ascending or descending run
        return True
    if any(len(i) >= 4 and i.isdigit() and i in code for i in identifiers):
        return True
    return any((code[:size] * n)[:n] == code for size in range(1, n // 2 + 1))


@pytest.mark.parametrize(
    ("code", "weak"),
    [
        ("77777777", True),
        ("34567890", True),
        ("32109876", True),
        ("58392047", True),
        ("73041795", True),
        ("12312312", True),
        ("47120938", False),
        ("12345670", False),
    ],
)
def test_the_tests_own_definition_of_trivially_weak(code: str, weak: bool) -> None:
    assert trivially_weak(code, IDS) is weak


@st.composite
def candidate_codes(draw: st.DrawFn) -> tuple[str, int, tuple[str, str]]:
    """Codes of every kind, weak ones on purpose, with the identifiers of their owner."""
    length = draw(st.integers(5, 12))
    client = draw(CLIENT_IDS)
    user = draw(USER_NUMBERS)
    digit = st.sampled_from(DIGITS)
    kind = draw(st.sampled_from(["random", "same", "run", "block", "identifier", "mutated"]))
    code = "".join(draw(st.lists(digit, min_size=length, max_size=length)))
    if kind == "same":
        code = draw(digit) * length
    elif kind == "run":
        start, step = draw(st.integers(0, 9)), draw(st.sampled_from([1, -1]))
        code = "".join(str((start + step * i) % 10) for i in range(length))
    elif kind == "block":
        block = "".join(draw(st.lists(digit, min_size=1, max_size=length // 2)))
        code = (block * length)[:length]
    elif kind == "identifier":
        ident = draw(st.sampled_from([client, user]))
        if len(ident) <= length:
            at = draw(st.integers(0, length - len(ident)))
            code = code[:at] + ident + code[at + len(ident) :]
    elif kind == "mutated":  # a weak code with one digit changed: near the boundary
        start = draw(st.integers(0, 9))
        base = "".join(str((start + i) % 10) for i in range(length))
        at = draw(st.integers(0, length - 1))
        code = base[:at] + draw(digit) + base[at + 1 :]
    return code, length, (client, user)


@settings(max_examples=600)
@given(case=candidate_codes())
def test_an_accepted_code_is_never_trivially_weak(case: tuple[str, int, tuple[str, str]]) -> None:
    code, length, identifiers = case
    problems = strength_problems(code, CodeRules(length=length), identifiers)
    note(f"problems={problems}")
    if not problems:
        assert not trivially_weak(code, identifiers)


@given(case=candidate_codes())
def test_refusals_are_explained_without_the_code(case: tuple[str, int, tuple[str, str]]) -> None:
    code, length, identifiers = case
    rules = CodeRules(length=length)
    problems = strength_problems(code, rules, identifiers)
    if problems:
        with pytest.raises(WeakCode) as exc:
            require_strong(code, rules, identifiers)
        assert exc.value.reasons == problems
        assert code not in str(exc.value)
    else:
        assert require_strong(code, rules, identifiers) == code


@settings(max_examples=200)
@given(
    seed=st.integers(0, 2**64),
    length=st.integers(5, 16),
    client=CLIENT_IDS,
    user=USER_NUMBERS,
)
def test_generated_codes_are_accepted(seed: int, length: int, client: str, user: str) -> None:
    rules = CodeRules(length=length)
    rnd = random.Random(seed)  # seeded by hypothesis, so a failure replays
    code = generate_code(rules, (client, user), randbelow=rnd.randrange)
    assert len(code) == length
    assert code.isascii()
    assert code.isdigit()
    assert strength_problems(code, rules, (client, user)) == ()
    assert not trivially_weak(code, (client, user))


def test_generate_code_uses_the_system_random_by_default() -> None:
    codes = {generate_code(RULES, IDS) for _ in range(20)}
    assert len(codes) == 20
    assert all(strength_problems(c, RULES, IDS) == () for c in codes)


def test_generate_code_gives_up_when_nothing_is_acceptable() -> None:
    with pytest.raises(ConfigurationError):
        generate_code(RULES, randbelow=lambda _: 7)
