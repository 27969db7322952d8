"""emv/definitions.py: a bank's own reader profiles, cryptogram recipes and card templates,
as objects or as a TOML file; typed errors on bad files; the whole chain (software card from
a registered template, read with a registered profile, verified) and the command line.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from securebox_auth.cli import main
from securebox_auth.emv.cryptogram import RECIPES, VISA_CVN10, register_recipe
from securebox_auth.emv.definitions import (
    CARD_TEMPLATES,
    get_card_template,
    load_definitions,
    register_card_template,
    register_definitions,
)
from securebox_auth.emv.profiles import (
    PINSENTRY_UK,
    PROFILES,
    SHIPPED_PROFILES,
    CapMode,
    TerminalInput,
    register_profile,
)
from securebox_auth.errors import DefinitionError
from tests.cards.capworld import make_world

BANK: Final = """
[profile.testbank_reader]
label = "Testbank reader"
modes = ["identify", "respond", "sign"]
fixed = { "95" = "8000000000", "9A" = "000000", "9F35" = "34" }
currency_from_iaf = true

[recipe.testbank_cvn18]
cvn = 0x12
session = "emv_csk"
padding = 2
card_data = "full_iad"

[card.testbank]
aid = "A0000000038002"
label = "Testbank DPA"
recipe = "testbank_cvn18"
aip = "1000"
ipb = "00001F00000000000FFFFF00000000008000"
iaf = 0x80
cdol1 = "9F02069F03069F1A0295055F2A029A039C019F3704"
cdol2 = "8A029F02069F03069F1A0295055F2A029A039C019F3704"
gpo_format = 1
genac_format = 1
"""


def test_a_bank_file_registers_a_profile_a_recipe_and_a_card_that_work_together() -> None:
    definitions = register_definitions(load_definitions(BANK))
    assert [p.name for p in definitions.profiles] == ["testbank_reader"]
    profile = PROFILES["testbank_reader"]
    assert profile.fixed[0x9A] == bytes(3)
    assert profile.modes == {CapMode.IDENTIFY, CapMode.RESPOND, CapMode.SIGN}
    assert RECIPES["testbank_cvn18"].cvn == 0x12
    assert CARD_TEMPLATES["testbank"].iaf == 0x80
    assert "testbank_reader" not in SHIPPED_PROFILES
    # a card made from the template, read with the profile, verified by the server
    world = make_world("testbank", profile="testbank_reader")
    sign = TerminalInput.sign("67890189", 125050, 978)
    values = profile.values(sign, iaf=0x80)
    assert values[0x5F2A] == bytes.fromhex("0978")  # this bank's readers do send it
    from securebox_auth.factors.cap import CapRequest, verify_cap  # noqa: PLC0415
    from securebox_auth.lockout.rules import LockoutRules, LockoutState  # noqa: PLC0415
    from tests.cards.capworld import NOW  # noqa: PLC0415

    code = world.code(sign)
    verdict = verify_cap(
        world.record, CapRequest(sign), code, lockout=LockoutState(), now=NOW,
        issuer=world.issuer, lockout_rules=LockoutRules(),
    )  # fmt: skip
    assert verdict.ok, verdict.reason
    # registering the same file again is harmless
    register_definitions(load_definitions(BANK))


def test_registered_objects_and_name_conflicts() -> None:
    mine = dataclasses.replace(PINSENTRY_UK, name="testbank_objects", label="Objects")
    assert register_profile(mine) is mine
    register_profile(mine)  # the same again
    with pytest.raises(DefinitionError) as raised:
        register_profile(dataclasses.replace(mine, label="Another"))
    assert raised.value.path == "testbank_objects"
    with pytest.raises(DefinitionError):  # a shipped name keeps its meaning
        register_profile(dataclasses.replace(PINSENTRY_UK, currency_from_iaf=True))
    with pytest.raises(DefinitionError):
        register_profile(dataclasses.replace(PINSENTRY_UK, name="Bad Name"))
    with pytest.raises(DefinitionError):
        register_recipe(dataclasses.replace(VISA_CVN10, cvn=0x11))
    register_recipe(dataclasses.replace(VISA_CVN10, name="testbank_cvn10"))
    with pytest.raises(DefinitionError):
        register_card_template(dataclasses.replace(get_card_template("uk"), iaf=0x80))
    with pytest.raises(DefinitionError):
        register_card_template(
            dataclasses.replace(get_card_template("uk"), name="testbank_x", recipe="nope")
        )
    with pytest.raises(DefinitionError):
        get_card_template("nope")


_P: Final = '[profile.x1]\nlabel = "L"\nmodes = ["sign"]\n'
_R: Final = "[recipe.r1]\ncvn = 1\nsession = 'emv_csk'\npadding = 2\n"


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('[profile.x1]\nlabel = "L"\nmodes = ["fly"]', "profile.x1.modes"),
        ('[profile.x1]\nlabel = "L"\nmodes = []', "profile.x1.modes"),
        ('[profile.x1]\nmodes = ["sign"]', "profile.x1.label"),
        (_P + "colour = 1", "profile.x1.colour"),
        (_P + 'fixed = { "ZZ" = "00" }', "profile.x1.fixed.ZZ"),
        (_P + 'fixed = { "9A" = "0G" }', "profile.x1.fixed.9A"),
        ('[profile.x1]\nlabel = 7\nmodes = ["sign"]', "profile.x1.label"),
        (_P + "second_generate_ac = 1", "profile.x1.second_generate_ac"),
        ('[profile.PINSENTRY]\nlabel = "L"\nmodes = ["sign"]', "profile.PINSENTRY"),
        ('[profile.pinsentry_uk]\nlabel = "L"\nmodes = ["sign"]', "profile.pinsentry_uk"),
        (_R.replace("= 1", "= 300") + "card_data = 'full_iad'", "recipe.r1.cvn"),
        (_R.replace("emv_csk", "x") + "card_data = 'full_iad'", "recipe.r1.session"),
        (_R.replace("= 2", "= 3") + "card_data = 'full_iad'", "recipe.r1.padding"),
        (_R.replace("= 1", "= true") + "card_data = 'x'", "recipe.r1.cvn"),
        (_R + "card_data = 'x'", "recipe.r1.card_data"),
        ("[card.c1]\nrecipe = 'nope'", "card.c1.recipe"),
        ("[card.c1]\nrecipe = 'visa_cvn10'\naid = 'A000'", "card.c1.label"),
        ("[card.c1]\nrecipe = 'visa_cvn10'\naid = 'A000'\nlabel = 'L'\naip = '1000'\niaf = 0\n"
         "cdol1 = '9F02'\ncdol2 = ''", "card.c1.cdol1"),
        ("[card.c1]\nrecipe = 'visa_cvn10'\naid = 'A000'\nlabel = 'L'\naip = '1000'\niaf = 0\n"
         "cdol1 = ''\ncdol2 = ''", "card.c1.aid"),
        ("[bank]\nx = 1", "bank"),
        ("profile = 3", "profile"),
        ("[profile.x1\n", ""),
    ],
)  # fmt: skip
def test_bad_files_raise_a_typed_error_naming_the_key(text: str, path: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        load_definitions(text)
    assert raised.value.path == path
    assert raised.value.code == "emv_definition_invalid"


def test_bad_bytes_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError):
        load_definitions(b"\xff\xfe[profile]")
    with pytest.raises(DefinitionError):
        load_definitions(tmp_path / "missing.toml")
    with pytest.raises(DefinitionError):
        load_definitions(b"#" * (1 << 21))


@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_arbitrary_input_gives_definitions_or_a_typed_error(data: bytes | str) -> None:
    with contextlib.suppress(DefinitionError):
        load_definitions(data)


_TOML_VALUES = st.recursive(
    st.one_of(st.integers(), st.booleans(), st.text(max_size=8), st.floats(allow_nan=False)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.sampled_from(["profile", "recipe", "card"]),
    st.dictionaries(
        st.sampled_from(
            ["label", "modes", "fixed", "pdol", "cdol2", "cvn", "session", "padding",
             "card_data", "recipe", "aid", "aip", "ipb", "iaf", "cdol1", "dki", "expiry"]
        ),
        _TOML_VALUES,
        max_size=8,
    ),
)  # fmt: skip
def test_arbitrary_tables_give_definitions_or_a_typed_error(
    section: str, table: dict[str, object]
) -> None:
    import tomllib  # noqa: PLC0415

    def dump(value: object) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value).replace("inf", "inf")
        if isinstance(value, str):
            return '"' + value.encode("unicode_escape").decode().replace('"', '\\"') + '"'
        if isinstance(value, list):
            return "[" + ", ".join(dump(v) for v in value) + "]"
        assert isinstance(value, dict)
        return "{" + ", ".join(f"{dump(str(k))} = {dump(v)}" for k, v in value.items()) + "}"

    text = f"[{section}.fuzzed]\n" + "".join(f"{k} = {dump(v)}\n" for k, v in table.items())
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # the dumper's limits, not the loader's
    with contextlib.suppress(DefinitionError):
        load_definitions(text)


def test_the_card_commands_take_definitions_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    definitions = tmp_path / "bank.toml"
    definitions.write_text(BANK.replace("testbank", "clibank"), encoding="utf-8")
    card, issuer = str(tmp_path / "card.json"), str(tmp_path / "issuer")
    head = ("card", "--definitions", str(definitions))
    new = (*head, "new", "--card", card, "--issuer", issuer, "--pin", "1357", "--kind", "clibank")
    assert main([*new, "--profile", "clibank_reader"]) == 0
    out = capsys.readouterr().out
    card_id = out.split("registered:")[1].split()[0]
    sign = ("--mode", "sign", "--challenge", "67890189", "--amount", "12.50")
    cap = (*head, "cap", "--card", card, "--pin", "1357", "--profile", "clibank_reader")
    assert main([*cap, *sign]) == 0
    code = capsys.readouterr().out.strip()
    assert main([*head, "check", "--issuer", issuer, "--card-id", card_id, *sign, code]) == 0
    assert capsys.readouterr().out.startswith("accepted")
    # a bad file is a typed error and exit code 2, not a traceback
    definitions.write_text("[profile.bad]\nmodes = 3\n", encoding="utf-8")
    assert main([*head, "cap", "--card", card, "--pin", "1357", *sign]) == 2
    assert "emv_definition_invalid" in capsys.readouterr().err
