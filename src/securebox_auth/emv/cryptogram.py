"""Application cryptograms (ARQC, TC, AAC): what is MAC'd, with which key and padding.

A card's cryptogram version (the CVN, coded in its issuer application data, tag ``9F10``)
fixes three things, gathered here as a :class:`CvnRecipe`:

* the session key (:class:`~securebox_auth.emv.derivation.SessionKeyMethod`);
* the ISO 9797-1 padding (:class:`~securebox_auth.emv.mac.Padding`);
* which card data follow the terminal data, the AIP and the ATC in the MAC input
  (:class:`CardData`): the Visa CVR (4 bytes with its length byte, IAD bytes 3-6), the
  M/Chip CVR (6 bytes, IAD bytes 2-7) or the whole IAD.

The terminal part is the data the card received in the GENERATE AC command (the CDOL1
data). EMV Book 2 section 8.1.1 recommends a minimum set (9F02, 9F03, 9F1A, 95, 5F2A, 9A,
9C, 9F37, which *is* the usual 29-byte CDOL1); :func:`recommended_terminal_data` extracts it
when a card's CDOL1 asks for more tags and MACs only the minimum.

The cryptogram itself is MAC algorithm 3 (:func:`~securebox_auth.emv.mac.retail_mac`) over
``terminal ‖ AIP ‖ ATC ‖ card data`` under the session key.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from securebox_auth.emv.derivation import SessionKeyMethod, session_key
from securebox_auth.emv.mac import Padding, retail_mac
from securebox_auth.emv.tlv import DolEntry
from securebox_auth.errors import DefinitionError, MalformedInput

__all__ = [
    "MASTERCARD_CVN16",
    "MASTERCARD_CVN20",
    "RECIPES",
    "VISA_CVN10",
    "VISA_CVN18",
    "CardData",
    "CvnRecipe",
    "application_cryptogram",
    "card_data",
    "cryptogram_input",
    "get_recipe",
    "recommended_terminal_data",
    "register_recipe",
]


class CardData(enum.Enum):
    """The card-side data that follow ``AIP ‖ ATC`` in the MAC input."""

    #: Visa CVR: 4 bytes including its length byte (IAD bytes 3-6), e.g. ``03A48000``.
    VISA_CVR = "visa_cvr"
    #: M/Chip CVR: 6 bytes (IAD bytes 2-7).
    MCHIP_CVR = "mchip_cvr"
    #: The whole issuer application data (CCD, Visa CVN 18/22).
    FULL_IAD = "full_iad"


@dataclass(frozen=True, slots=True)
class CvnRecipe:
    """How one cryptogram version computes its application cryptogram."""

    name: str
    cvn: int
    session: SessionKeyMethod
    padding: Padding
    card_data: CardData
    #: MAC only the EMV recommended minimum of the terminal data, not all the CDOL1 data.
    recommended_terminal_only: bool = False


#: Visa CVN 10: the UDK directly, padding method 1, the 4-byte Visa CVR.
VISA_CVN10: Final = CvnRecipe(
    "visa_cvn10", 0x0A, SessionKeyMethod.UDK_DIRECT, Padding.METHOD_1, CardData.VISA_CVR
)
#: Visa CVN 18: the EMV common session key, padding method 2, the whole IAD.
VISA_CVN18: Final = CvnRecipe(
    "visa_cvn18", 0x12, SessionKeyMethod.EMV_CSK, Padding.METHOD_2, CardData.FULL_IAD
)
#: Mastercard M/Chip CVN 16: Mastercard session key derivation (ATC and UN), the 6-byte CVR.
MASTERCARD_CVN16: Final = CvnRecipe(
    "mastercard_cvn16",
    0x10,
    SessionKeyMethod.MASTERCARD_SKD,
    Padding.METHOD_2,
    CardData.MCHIP_CVR,
)
#: Mastercard M/Chip CVN 20: the EMV common session key, the 6-byte CVR.
MASTERCARD_CVN20: Final = CvnRecipe(
    "mastercard_cvn20", 0x14, SessionKeyMethod.EMV_CSK, Padding.METHOD_2, CardData.MCHIP_CVR
)

_REGISTERED: Final[dict[str, CvnRecipe]] = {
    r.name: r for r in (VISA_CVN10, VISA_CVN18, MASTERCARD_CVN16, MASTERCARD_CVN20)
}
#: The recipes securebox knows, by name: the shipped ones and those a bank registered.
RECIPES: Final[Mapping[str, CvnRecipe]] = MappingProxyType(_REGISTERED)
_NAME: Final = re.compile(r"[a-z][a-z0-9_]{1,39}")


def register_recipe(recipe: CvnRecipe) -> CvnRecipe:
    """Make ``recipe`` known by its name; the same name for another recipe is refused
    (:class:`~securebox_auth.errors.DefinitionError`), as for reader profiles."""
    if not isinstance(recipe, CvnRecipe):
        raise DefinitionError("", "a cryptogram recipe is a CvnRecipe")
    if not isinstance(recipe.name, str) or not _NAME.fullmatch(recipe.name):
        raise DefinitionError(
            "", f"a recipe name is 2-40 lower-case letters, digits, _: {recipe.name!r}"
        )
    if not isinstance(recipe.cvn, int) or not 0 <= recipe.cvn <= 0xFF:
        raise DefinitionError(recipe.name, "a CVN is one byte")
    known = _REGISTERED.get(recipe.name)
    if known is not None and known != recipe:
        raise DefinitionError(recipe.name, "another cryptogram recipe already has this name")
    _REGISTERED[recipe.name] = recipe
    return recipe


def get_recipe(name: str) -> CvnRecipe:
    try:
        return RECIPES[name]
    except (KeyError, TypeError):
        raise MalformedInput(f"unknown cryptogram recipe {name!r}") from None


def card_data(kind: CardData, iad: bytes) -> bytes:
    """The card data of the MAC input, cut from the issuer application data."""
    if kind is CardData.FULL_IAD:
        return iad
    start, end = (3, 7) if kind is CardData.VISA_CVR else (2, 8)
    if len(iad) < end:
        raise MalformedInput(f"an IAD of {len(iad)} bytes holds no {kind.value}")
    return iad[start:end]


_RECOMMENDED: Final = ((0x9F02, 6), (0x9F03, 6), (0x9F1A, 2), (0x95, 5), (0x5F2A, 2),
                       (0x9A, 3), (0x9C, 1), (0x9F37, 4))  # fmt: skip


def recommended_terminal_data(cdol1: Sequence[DolEntry], data: bytes) -> bytes:
    """The EMV recommended minimum terminal data, picked out of CDOL1 ``data``."""
    offsets: dict[int, tuple[int, int]] = {}
    pos = 0
    for entry in cdol1:
        offsets.setdefault(entry.tag, (pos, entry.length))
        pos += entry.length
    if pos != len(data):
        raise MalformedInput("the CDOL1 data do not have the CDOL1 length")
    parts = []
    for tag, length in _RECOMMENDED:
        where = offsets.get(tag)
        if where is None or where[1] != length:
            raise MalformedInput(f"CDOL1 has no {length}-byte tag {tag:X}")
        parts.append(data[where[0] : where[0] + length])
    return b"".join(parts)


def cryptogram_input(
    recipe: CvnRecipe, *, terminal: bytes, aip: bytes, atc: int, iad: bytes
) -> bytes:
    """``terminal ‖ AIP ‖ ATC ‖ card data``: the data MAC'd into the cryptogram."""
    if len(aip) != 2:
        raise MalformedInput("an AIP has 2 bytes")
    if not 0 <= atc <= 0xFFFF:
        raise MalformedInput("an ATC is 0-65535")
    return terminal + aip + atc.to_bytes(2, "big") + card_data(recipe.card_data, iad)


def application_cryptogram(
    recipe: CvnRecipe,
    mk: bytes,
    *,
    terminal: bytes,
    aip: bytes,
    atc: int,
    un: bytes,
    iad: bytes,
) -> bytes:
    """The 8-byte cryptogram a card with master key ``mk`` computes (card side, tests).

    ``terminal`` is what the recipe MACs (the CDOL1 data, or their recommended subset) and
    ``un`` the unpredictable number (tag 9F37) that Mastercard session keys depend on.
    """
    key = session_key(mk, recipe.session, atc, un)
    data = cryptogram_input(recipe, terminal=terminal, aip=aip, atc=atc, iad=iad)
    return retail_mac(key, data, recipe.padding)
