"""TOML in and out (policy/loader.py): errors that name the key, and round trips."""

from __future__ import annotations

import string
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from securebox_auth.errors import PolicyError
from securebox_auth.factors.cap import CapRules
from securebox_auth.factors.code_strength import CodeRules
from securebox_auth.factors.methods import METHODS, categories_of
from securebox_auth.factors.oob import OobRules
from securebox_auth.factors.totp import TotpRules
from securebox_auth.lockout.rules import LockoutRules
from securebox_auth.policy.loader import from_toml, load_policy, to_toml
from securebox_auth.policy.model import (
    PSD2_DEFAULT,
    AcrLevels,
    Linking,
    LoginRules,
    OperationRule,
    Policy,
    RecoveryRules,
    Renewal,
    RenewalRule,
    SessionRules,
    Unlisted,
)

from .support import POLICIES


def test_shipped_default_equals_the_python_profile() -> None:
    assert load_policy(POLICIES / "psd2-default.toml") == PSD2_DEFAULT


@pytest.mark.parametrize("name", ["psd2-default", "psd2-180-days", "strict-example"])
def test_shipped_policies_round_trip(name: str) -> None:
    policy = load_policy(POLICIES / f"{name}.toml")
    assert policy.name == name
    text = to_toml(policy)
    assert from_toml(text) == policy
    assert to_toml(from_toml(text)) == text


def test_shipped_profiles() -> None:
    days180 = load_policy(POLICIES / "psd2-180-days.toml")
    assert days180.renewal.every_days == 180
    assert days180.renewal.for_channel("aisp").every_days == 180
    strict = load_policy(POLICIES / "strict-example.toml")
    assert strict.renewal.every_login
    assert strict.lockout.max_failures == 3
    assert strict.code.length == 10
    assert strict.code.history == CodeRules().history  # keys left out take defaults


def test_empty_document_is_the_default() -> None:
    assert from_toml("") == Policy()
    assert from_toml(b"") == Policy()


def test_durations() -> None:
    policy = from_toml(
        '[session]\nidle_timeout = "90s"\nabsolute_lifetime = "2h"\n'
        '[lockout]\nfailure_window = "1d"\ntemporary_block = 0\nmax_temporary_blocks = "never"\n'
    )
    assert policy.session.idle_timeout == timedelta(seconds=90)
    assert policy.session.absolute_lifetime == timedelta(hours=2)
    assert policy.lockout == LockoutRules(
        failure_window=timedelta(days=1), temporary_block=None, max_temporary_blocks=None
    )


def test_operations_table_lists_every_operation() -> None:
    policy = from_toml('[operation.view]\nsensitive = false\ncites = "x"\n')
    assert policy.operation_names == ("view",)
    quoted = from_toml('[operation."payment.initiate"]\nmethods = ["cap_sign"]\n')
    assert quoted.operation_names == ("payment.initiate",)
    assert from_toml(to_toml(quoted)) == quoted


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        (
            "[operation.payee_management]\nmax_agee = 3",
            "operation.payee_management.max_agee",
            "did you mean 'max_age'",
        ),
        (
            "[operation.payee_management]\nmax_age = -1",
            "operation.payee_management.max_age",
            "whole seconds",
        ),
        (
            "[operation.payee_management]\nmax_age = 0\nmethods=['cap_sign']",
            "operation.payee_management.max_age",
            "between",
        ),
        (
            "[operation.x]\nmethods = ['cap_sign', 'nope']",
            "operation.x.methods[1]",
            "unknown method 'nope'",
        ),
        ("[operation.x]\nmethods = 'cap_sign'", "operation.x.methods", "list of names"),
        ("[operation.x]\nlinking = 'amount'", "operation.x.linking", "one of none, payee"),
        (
            "[operation.x]\nlinking = 'payee'\nmethods = ['cap_sign']",
            "operation.x.single_use",
            "RTS arts. 4(1)",
        ),
        ("[operation]\nx = 1", "operation.x", "must be a table"),
        ("[lockout]\nmax_failures = 0", "lockout.max_failures", "between 1 and 100"),
        ("[lockout]\nmax_failures = true", "lockout.max_failures", "whole number"),
        ("[lockout]\nmax_temporary_blocks = 'always'", "lockout.max_temporary_blocks", '"never"'),
        ("[code]\nlength = 3", "code.length", "between 4 and 16"),
        ("[code]\nrefuse_dates = 'yes'", "code.refuse_dates", "true or false"),
        ("[code]\none_time_code_lifetime = '1m'", "code.one_time_code_lifetime", "5 minutes"),
        ("[session]\nidle_timeout = '5 minutes'", "session.idle_timeout", '"5m"'),
        ("[session]\nidle = 300", "session.idle", "unknown key"),
        ("[renewal]\nevery_days = 0", "renewal.every_days", "1 to 3650"),
        ("[renewal]\nevery_days = 90.0", "renewal.every_days", "whole number"),
        ("[renewal.channel.aisp]\nevery_day = 180", "renewal.channel.aisp.every_day", "every_days"),
        ("[login]\nmethods = ['confidential_code']", "login.methods", "strong"),
        ("[acr]\nstrong = 'a b'", "acr.strong", "without spaces"),
        ("unlisted_operations = 'maybe'", "unlisted_operations", "allow, deny"),
        ("version = 2", "version", "format 1"),
        ("colour = 'blue'", "colour", "unknown key"),
        ("name = 'a b'", "name", "policy name"),
        ("login = 3", "login", "must be a table"),
        ("[session", "", "not valid TOML"),
    ],
)
def test_errors_name_the_key(document: str, path: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        from_toml(document)
    assert caught.value.path == path
    assert message in str(caught.value)


def test_load_policy_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('description = "caf\xe9"'.encode("latin-1"))
    with pytest.raises(PolicyError, match="UTF-8"):
        load_policy(bad)


def test_writer_escapes_text() -> None:
    tricky = 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f accents éà ✓'
    policy = Policy(description=tricky)
    text = to_toml(policy)
    assert tomllib.loads(text)["description"] == tricky
    assert from_toml(text) == policy


# -- the round-trip property ------------------------------------------------------------------

_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,16}", fullmatch=True)
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
_seconds = st.integers(min_value=1, max_value=86_400).map(lambda s: timedelta(seconds=s))
_acr = st.from_regex(r"[\x21\x23-\x5b\x5d-\x7e]{1,20}", fullmatch=True)


@st.composite
def operations(draw: st.DrawFn, name: str) -> OperationRule:
    if not draw(st.booleans()):
        return OperationRule(
            name=name,
            label=draw(_text),
            cites=draw(_text),
            sensitive=False,
            methods=(),
            min_categories=draw(st.integers(1, 3)),
            max_age=draw(_seconds),
            payment=draw(st.booleans()),
        )
    linking = draw(st.sampled_from(list(Linking)))
    minimum = draw(st.integers(1, 3))
    methods = draw(st.lists(st.sampled_from(sorted(METHODS)), unique=True, max_size=5))
    required = ["cap_sign"] if linking is not Linking.NONE else []
    if minimum == 3:
        required += ["passkey_uv", "confidential_code"]
    elif len(categories_of(METHODS[m] for m in methods)) < minimum:
        required.append("cap_identify")
    methods += [m for m in required if m not in methods]
    return OperationRule(
        name=name,
        label=draw(_text),
        cites=draw(_text),
        methods=tuple(methods),
        min_categories=minimum,
        max_age=draw(_seconds),
        single_use=linking is not Linking.NONE or draw(st.booleans()),
        linking=linking,
        payment=draw(st.booleans()),
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    op_names = draw(st.lists(_names, unique=True, max_size=4))
    channel_names = draw(st.lists(_names, unique=True, max_size=3))
    idle = draw(_seconds)
    length = draw(st.integers(6, 16))
    acr = draw(st.lists(_acr, unique=True, min_size=3, max_size=3))
    return Policy(
        name=draw(_names),
        description=draw(_text),
        unlisted_operations=draw(st.sampled_from(list(Unlisted))),
        login=LoginRules(
            methods=tuple(
                dict.fromkeys(
                    [*draw(st.lists(st.sampled_from(sorted(METHODS)), max_size=4)), "cap_identify"]
                )
            )
        ),
        renewal=Renewal(
            every_days=draw(st.integers(1, 3650)),
            every_login=draw(st.booleans()),
            channels=tuple(
                (
                    c,
                    RenewalRule(
                        every_days=draw(st.integers(1, 3650)), every_login=draw(st.booleans())
                    ),
                )
                for c in channel_names
            ),
        ),
        session=SessionRules(
            idle_timeout=idle,
            absolute_lifetime=idle + draw(_seconds),
        ),
        lockout=LockoutRules(
            max_failures=draw(st.integers(1, 100)),
            failure_window=draw(st.none() | _seconds),
            temporary_block=draw(st.none() | _seconds),
            max_temporary_blocks=draw(st.none() | st.integers(0, 10)),
        ),
        code=CodeRules(
            length=length,
            history=draw(st.integers(0, 24)),
            max_repeat=draw(st.integers(1, length - 1)),
            max_sequence=draw(st.integers(2, length - 1)),
            refuse_dates=draw(st.booleans()),
            min_identifier_overlap=draw(st.integers(2, 8)),
            one_time_code_lifetime=timedelta(seconds=draw(st.integers(300, 30 * 86_400))),
        ),
        oob=OobRules(
            digits=draw(st.integers(6, 8)),
            lifetime=timedelta(seconds=draw(st.integers(60, 600))),
            max_wrong=draw(st.integers(1, 10)),
            per_user=draw(st.integers(1, 50)),
            per_destination=draw(st.integers(1, 50)),
            throttle_window=timedelta(seconds=draw(st.integers(1, 86_400))),
            min_interval=timedelta(seconds=draw(st.integers(0, 3_600))),
            issuer=draw(st.text(string.ascii_letters + string.digits + " -'\"", max_size=20)),
        ),
        cap=CapRules(window=draw(st.integers(1, 256))),
        recovery=RecoveryRules(
            secret_questions=draw(st.booleans()),
            reset_link_lifetime=timedelta(seconds=draw(st.integers(60, 30 * 86_400))),
        ),
        acr=AcrLevels(simple=acr[0], strong=acr[1], phishing_resistant=acr[2]),
        operations=tuple(draw(operations(n)) for n in op_names),
    )


@settings(max_examples=60)
@given(policy=policies())
def test_round_trip(policy: Policy) -> None:
    text = to_toml(policy)
    assert from_toml(text) == policy
    assert to_toml(from_toml(text)) == text


def test_totp_section() -> None:
    policy = from_toml('version = 1\nname = "t"\n[totp]\nwindow = 0\ndigits = 8\n')
    assert policy.totp == TotpRules(window=0, digits=8)
    assert from_toml(to_toml(policy)) == policy
    with pytest.raises(PolicyError) as caught:
        from_toml('version = 1\nname = "t"\n[totp]\nwindow = 5\n')
    assert caught.value.path == "totp.window"
    with pytest.raises(PolicyError):
        from_toml('version = 1\nname = "t"\n[totp]\nalgorithm = "MD5"\n')


def test_oob_and_cap_sections() -> None:
    policy = from_toml(
        'version = 1\nname = "t"\n[oob]\ndigits = 8\nlifetime = "3m"\nper_user = 3\n'
        'min_interval = "1m"\nissuer = "Bank"\n[cap]\nwindow = 8\n'
    )
    assert policy.oob == OobRules(
        digits=8, lifetime=timedelta(minutes=3), per_user=3,
        min_interval=timedelta(minutes=1), issuer="Bank",
    )  # fmt: skip
    assert policy.cap == CapRules(window=8)
    assert from_toml(to_toml(policy)) == policy
    # left out, each section is the services' default
    assert from_toml('version = 1\nname = "t"\n').oob == OobRules()
    assert from_toml('version = 1\nname = "t"\n').cap == CapRules()
    for text, path in [
        ('[oob]\nlifetime = "11m"', "oob.lifetime"),
        ("[oob]\ndigits = 5", "oob.digits"),
        ("[oob]\nmax_wrong = 0", "oob.max_wrong"),
        ("[oob]\nper_user = 0", "oob"),
        ("[oob]\nlifetimes = 60", "oob.lifetimes"),
        ("[cap]\nwindow = 257", "cap.window"),
        ('[cap]\nwindow = "20"', "cap.window"),
    ]:
        with pytest.raises(PolicyError) as caught:
            from_toml(f'version = 1\nname = "t"\n{text}\n')
        assert caught.value.path == path, text
