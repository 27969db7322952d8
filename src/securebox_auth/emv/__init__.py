"""EMV building blocks for CAP card readers: pure functions and frozen values, no I/O.

``tlv`` (BER-TLV and DOLs), ``apdu`` (command and response APDUs), ``commands`` (the
commands a CAP reader sends), ``des`` and ``mac`` (DES, ISO 9797-1 MAC algorithm 3),
``derivation`` (card master and session keys), ``cryptogram`` (application cryptograms per
CVN), ``genac`` (GENERATE AC answers), ``cap`` (the code a reader displays), ``profiles``
(how reader families fill the terminal data) and ``issuer`` (the issuer key provider).

The server-side verifier built on them is :mod:`securebox_auth.factors.cap`; the software
card and the reader emulator are in :mod:`securebox_auth.cards`.
"""

from securebox_auth.emv.apdu import CommandApdu, ResponseApdu, StatusWord
from securebox_auth.emv.cap import CapCodec, belgian_code, tds_mac
from securebox_auth.emv.cryptogram import RECIPES, CvnRecipe, get_recipe
from securebox_auth.emv.derivation import SessionKeyMethod, icc_master_key, session_key
from securebox_auth.emv.genac import CryptogramType, GenerateAcResponse
from securebox_auth.emv.issuer import CryptogramRequest, IssuerKeyProvider, SoftwareIssuerKeys
from securebox_auth.emv.mac import Padding, retail_mac
from securebox_auth.emv.profiles import (
    PROFILES,
    CapMode,
    ReaderProfile,
    TerminalInput,
    get_profile,
)
from securebox_auth.emv.tlv import DolEntry, Tlv, TlvError

__all__ = [
    "PROFILES",
    "RECIPES",
    "CapCodec",
    "CapMode",
    "CommandApdu",
    "CryptogramRequest",
    "CryptogramType",
    "CvnRecipe",
    "DolEntry",
    "GenerateAcResponse",
    "IssuerKeyProvider",
    "Padding",
    "ReaderProfile",
    "ResponseApdu",
    "SessionKeyMethod",
    "SoftwareIssuerKeys",
    "StatusWord",
    "TerminalInput",
    "Tlv",
    "TlvError",
    "belgian_code",
    "get_profile",
    "get_recipe",
    "icc_master_key",
    "retail_mac",
    "session_key",
    "tds_mac",
]
