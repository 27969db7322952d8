"""A bank's own CAP definitions: reader profiles, cryptogram recipes and card templates.

securebox ships four reader profiles (:mod:`securebox_auth.emv.profiles`), four cryptogram
recipes (:mod:`securebox_auth.emv.cryptogram`) and two card templates (``uk``, ``be``, the
personalisations of :func:`securebox_auth.cards.cardfile.demo_card`). A bank whose readers
or cards differ registers its own, either as objects (:func:`~securebox_auth.emv.profiles.
register_profile`, :func:`~securebox_auth.emv.cryptogram.register_recipe`,
:func:`register_card_template`) or as a TOML file (:func:`load_definitions` checks it,
:func:`register_definitions` registers what it defines; nothing is registered when any part
is invalid)::

    [profile.mybank_reader]
    label = "MyBank reader"
    modes = ["identify", "respond", "sign"]
    fixed = { "95" = "8000000000", "9A" = "010101" }   # tag (hex) = value (hex)
    # pdol = { "9F35" = "34" }         # absent: an empty PDOL, whatever the card asks
    # second_generate_ac = false       # cdol2 = { "8A" = "5A33" }
    # currency_from_iaf = false        # belgian_fallback = false

    [recipe.mybank_cvn18]
    cvn = 0x12
    session = "emv_csk"                 # udk_direct | emv_csk | mastercard_skd
    padding = 2                         # ISO 9797-1 method 1 or 2
    card_data = "full_iad"              # visa_cvr | mchip_cvr | full_iad

    [card.mybank]                       # a template for software test cards
    aid = "A0000000048002"
    label = "MyBank CAP"
    recipe = "mybank_cvn18"
    aip = "1000"
    ipb = "00001F00000000000FFFFF00000000008000"
    iaf = 0xA0
    cdol1 = "9F02069F03069F1A0295055F2A029A039C019F3704"
    cdol2 = "8A029F02069F03069F1A0295055F2A029A039C019F3704"

Every error is a :class:`~securebox_auth.errors.DefinitionError` naming the offending key
(``profile.mybank_reader.fixed.9A``). A name already registered for another definition is
refused: card records name their profile and recipe, so a name must keep its meaning.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeVar

from securebox_auth.emv.cryptogram import RECIPES, CardData, CvnRecipe, register_recipe
from securebox_auth.emv.derivation import SessionKeyMethod
from securebox_auth.emv.mac import Padding
from securebox_auth.emv.profiles import PROFILES, CapMode, ReaderProfile, register_profile
from securebox_auth.emv.tlv import parse_dol
from securebox_auth.errors import DefinitionError, MalformedInput

__all__ = [
    "CARD_TEMPLATES",
    "CardTemplate",
    "Definitions",
    "get_card_template",
    "load_definitions",
    "register_card_template",
    "register_definitions",
]

_T = TypeVar("_T")
_MAX_FILE: Final = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class CardTemplate:
    """A CAP card's personalisation without its key, PAN, PIN and counters."""

    name: str
    aid: bytes
    label: str
    recipe: str
    aip: bytes
    ipb: bytes | None
    iaf: int
    cdol1: bytes
    cdol2: bytes
    iaf_in_fci: bool = False
    pdol: bytes = b""
    dki: int = 1
    expiry: str = "301231"
    pin_try_limit: int = 3
    gpo_format: int = 2
    genac_format: int = 2

    def __post_init__(self) -> None:
        path = f"card.{self.name}"
        for name in ("cdol1", "cdol2", "pdol"):
            try:
                parse_dol(getattr(self, name))
            except MalformedInput as exc:
                raise DefinitionError(f"{path}.{name}", str(exc)) from None
        checks = {
            "aid": 5 <= len(self.aid) <= 16,
            "aip": len(self.aip) == 2,
            "ipb": self.ipb is None or 1 <= len(self.ipb) <= 32,
            "iaf": 0 <= self.iaf <= 0xFF,
            "dki": 0 <= self.dki <= 0xFF,
            "label": 1 <= len(self.label) <= 16 and self.label.isascii(),
            "expiry": len(self.expiry) == 6 and self.expiry.isdigit(),
            "pin_try_limit": 1 <= self.pin_try_limit <= 15,
            "gpo_format": self.gpo_format in (1, 2),
            "genac_format": self.genac_format in (1, 2),
        }
        for name, ok in checks.items():
            if not ok:
                raise DefinitionError(f"{path}.{name}", "out of range")


_UK_CDOL1: Final = bytes.fromhex("9F02069F03069F1A0295055F2A029A039C019F3704")
_BE_CDOL1: Final = _UK_CDOL1 + bytes.fromhex("9F4C029F3403")
_TEMPLATES: Final[dict[str, CardTemplate]] = {
    # as the NatWest card of Drimer et al. (FC 2009): Visa CVN 10, format 1 answers
    "uk": CardTemplate(
        name="uk", aid=bytes.fromhex("A0000000048002"), label="SecureCode Aut",
        recipe="visa_cvn10", aip=bytes.fromhex("1000"),
        ipb=bytes.fromhex("00001F00000000000FFFFF00000000008000"), iaf=0xA0,
        cdol1=_UK_CDOL1, cdol2=bytes.fromhex("8A02") + _UK_CDOL1, gpo_format=1, genac_format=1,
    ),
    # as Belgian cards read by Vasco readers: M/Chip CVN 16, a PDOL, the IAF in the FCI
    "be": CardTemplate(
        name="be", aid=bytes.fromhex("A0000000048002"), label="SecureCode Aut",
        recipe="mastercard_cvn16", aip=bytes.fromhex("1000"),
        ipb=bytes.fromhex("0000FF000000000003FFFF"), iaf=0x00, iaf_in_fci=True,
        cdol1=_BE_CDOL1, cdol2=bytes.fromhex("8A02") + _BE_CDOL1, pdol=bytes.fromhex("9F3501"),
    ),
}  # fmt: skip
#: Every card template by name: the shipped ``uk`` and ``be`` and those registered.
CARD_TEMPLATES: Final[Mapping[str, CardTemplate]] = MappingProxyType(_TEMPLATES)


def register_card_template(template: CardTemplate) -> CardTemplate:
    """Make ``template`` known by its name (same rules as the profiles)."""
    if not isinstance(template, CardTemplate):
        raise DefinitionError("", "a card template is a CardTemplate")
    _check_name("card", template.name)
    if template.recipe not in RECIPES:
        raise DefinitionError(f"card.{template.name}.recipe", "register the recipe first")
    known = _TEMPLATES.get(template.name)
    if known is not None and known != template:
        raise DefinitionError(f"card.{template.name}", "another card template has this name")
    _TEMPLATES[template.name] = template
    return template


def get_card_template(name: str) -> CardTemplate:
    try:
        return CARD_TEMPLATES[name]
    except (KeyError, TypeError):
        raise DefinitionError("", f"unknown card template {name!r}") from None


@dataclass(frozen=True, slots=True)
class Definitions:
    """What one definitions file defines (checked, not yet registered)."""

    profiles: tuple[ReaderProfile, ...] = ()
    recipes: tuple[CvnRecipe, ...] = ()
    cards: tuple[CardTemplate, ...] = ()


# -- reading a TOML file ---------------------------------------------------------------------


def _check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not (
        2 <= len(name) <= 40 and name[0].isalpha() and name.isascii()
    ):
        raise DefinitionError(kind, f"a name is 2-40 ASCII letters, digits and _: {name!r}")
    if not all(ch.islower() or ch.isdigit() or ch == "_" for ch in name):
        raise DefinitionError(kind, f"a name is lower-case letters, digits and _: {name!r}")
    return name


class _Table:
    """One ``[kind.name]`` table: typed reads that name the key in their errors."""

    def __init__(self, path: str, data: object) -> None:
        if not isinstance(data, dict):
            raise DefinitionError(path, "is a table")
        self.path, self.data, self.read = path, data, set[str]()

    def get(self, key: str, kind: type[_T], default: _T | None = None) -> _T:
        self.read.add(key)
        if key not in self.data:
            if default is None:
                raise DefinitionError(f"{self.path}.{key}", "is required")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise DefinitionError(f"{self.path}.{key}", f"is a {kind.__name__}")
        return value

    def hex(self, key: str, default: bytes | None = None) -> bytes:
        text = self.get(key, str, None if default is None else default.hex())
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise DefinitionError(f"{self.path}.{key}", "is hexadecimal") from None

    def tags(self, key: str) -> dict[int, bytes] | None:
        if key not in self.data:
            self.read.add(key)
            return None
        table = _Table(f"{self.path}.{key}", self.get(key, dict))
        values: dict[int, bytes] = {}
        for tag in table.data:
            try:
                number = int(tag, 16)
            except ValueError:
                raise DefinitionError(f"{table.path}.{tag}", "a tag is hexadecimal") from None
            if not 0 < number <= 0xFFFF:
                raise DefinitionError(f"{table.path}.{tag}", "a tag has 1 or 2 bytes")
            values[number] = table.hex(tag)
        return values

    def choice(self, key: str, convert: Callable[[Any], _T], kind: type = str) -> _T:
        value: object = self.get(key, kind)
        try:
            return convert(value)
        except (ValueError, MalformedInput):
            raise DefinitionError(f"{self.path}.{key}", f"unknown value {value!r}") from None

    def done(self) -> None:
        extra = sorted(set(self.data) - self.read)
        if extra:
            raise DefinitionError(f"{self.path}.{extra[0]}", "unknown key")


def _profile(name: str, data: object) -> ReaderProfile:
    t = _Table(f"profile.{name}", data)
    modes = t.get("modes", list)
    try:
        parsed_modes = frozenset(CapMode(m) for m in modes)
    except (ValueError, TypeError):
        raise DefinitionError(f"{t.path}.modes", "identify, respond, sign, tds") from None
    if not parsed_modes:
        raise DefinitionError(f"{t.path}.modes", "at least one mode")
    profile = ReaderProfile(
        name=name,
        label=t.get("label", str),
        modes=parsed_modes,
        fixed=t.tags("fixed") or {},
        pdol=t.tags("pdol"),
        second_generate_ac=t.get("second_generate_ac", bool, False),
        cdol2=t.tags("cdol2") or {},
        currency_from_iaf=t.get("currency_from_iaf", bool, False),
        belgian_fallback=t.get("belgian_fallback", bool, False),
    )
    t.done()
    return profile


def _recipe(name: str, data: object) -> CvnRecipe:
    t = _Table(f"recipe.{name}", data)
    cvn = t.get("cvn", int)
    if not 0 <= cvn <= 0xFF:
        raise DefinitionError(f"{t.path}.cvn", "a CVN is one byte")
    recipe = CvnRecipe(
        name,
        cvn,
        t.choice("session", SessionKeyMethod),
        t.choice("padding", Padding, int),
        t.choice("card_data", CardData),
        t.get("recommended_terminal_only", bool, False),
    )
    t.done()
    return recipe


def _card(name: str, data: object, recipes: Mapping[str, CvnRecipe]) -> CardTemplate:
    t = _Table(f"card.{name}", data)
    recipe = t.get("recipe", str)
    if recipe not in recipes and recipe not in RECIPES:
        raise DefinitionError(f"{t.path}.recipe", f"unknown cryptogram recipe {recipe!r}")
    template = CardTemplate(
        name=name, recipe=recipe, aid=t.hex("aid"), label=t.get("label", str),
        aip=t.hex("aip"), ipb=t.hex("ipb") if "ipb" in t.data else None,
        iaf=t.get("iaf", int), cdol1=t.hex("cdol1"), cdol2=t.hex("cdol2"),
        pdol=t.hex("pdol", b""), iaf_in_fci=t.get("iaf_in_fci", bool, False),
        dki=t.get("dki", int, 1), expiry=t.get("expiry", str, "301231"),
        pin_try_limit=t.get("pin_try_limit", int, 3), gpo_format=t.get("gpo_format", int, 2),
        genac_format=t.get("genac_format", int, 2),
    )  # fmt: skip
    t.read.add("ipb")
    t.done()
    return template


def load_definitions(source: str | bytes | Path) -> Definitions:
    """Read and check a definitions file (a path, or its text). Registers nothing."""
    if isinstance(source, Path):
        name = source.name
        try:
            with source.open("rb") as handle:
                source = handle.read(_MAX_FILE + 1)
        except OSError as exc:
            raise DefinitionError("", f"cannot read {name}: {exc.strerror}") from None
    if isinstance(source, bytes):
        if len(source) > _MAX_FILE:
            raise DefinitionError("", "a definitions file is at most 1 MiB")
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError:
            raise DefinitionError("", "a definitions file is UTF-8 text") from None
    if not isinstance(source, str):
        raise DefinitionError("", "definitions are TOML text")
    try:
        document = tomllib.loads(source)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
        raise DefinitionError("", f"not valid TOML ({exc})") from None
    extra = sorted(set(document) - {"profile", "recipe", "card"})
    if extra:
        raise DefinitionError(extra[0], "unknown section (profile, recipe or card)")
    sections = {
        key: _Table(key, document.get(key, {})).data for key in ("profile", "recipe", "card")
    }
    recipes = {_check_name(f"recipe.{n}", n): _recipe(n, d) for n, d in sections["recipe"].items()}
    profiles = [_profile(_check_name(f"profile.{n}", n), d) for n, d in sections["profile"].items()]
    cards = [_card(_check_name(f"card.{n}", n), d, recipes) for n, d in sections["card"].items()]
    definitions = Definitions(tuple(profiles), tuple(recipes.values()), tuple(cards))
    _check_conflicts(definitions)
    return definitions


def _check_conflicts(definitions: Definitions) -> None:
    for profile in definitions.profiles:
        if PROFILES.get(profile.name, profile) != profile:
            raise DefinitionError(f"profile.{profile.name}", "another profile has this name")
    for recipe in definitions.recipes:
        if RECIPES.get(recipe.name, recipe) != recipe:
            raise DefinitionError(f"recipe.{recipe.name}", "another recipe has this name")
    for card in definitions.cards:
        if CARD_TEMPLATES.get(card.name, card) != card:
            raise DefinitionError(f"card.{card.name}", "another card template has this name")


def register_definitions(definitions: Definitions) -> Definitions:
    """Register everything ``definitions`` defines (all or nothing: conflicts are checked
    before the first registration)."""
    _check_conflicts(definitions)
    for recipe in definitions.recipes:
        register_recipe(recipe)
    for profile in definitions.profiles:
        register_profile(profile)
    for card in definitions.cards:
        register_card_template(card)
    return definitions
