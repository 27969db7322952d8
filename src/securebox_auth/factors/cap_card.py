"""The CAP card record: what the server stores per card, and enrolment.

A :class:`CapCard` holds no PAN and no key: a keyed hash of the PAN (:func:`pan_digest`,
under an application :class:`~securebox_auth.crypto.keys.KeyProvider`), its last four digits, the
PAN sequence number, the issuer key provider's opaque key reference, the card's cryptogram
recipe and data layout, the predicted CID and IAD of a PIN-verified ARQC, the reader
profile, and ``last_atc``, the one field verification moves. All fields are plain values
(``str``, ``int``, ``bytes``, aware ``datetime``); :meth:`CapCard.to_dict` and
:meth:`CapCard.from_dict` give a JSON-safe form for stores.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from securebox_auth.audit import AuditEvent
from securebox_auth.clock import require_aware
from securebox_auth.crypto.keys import KeyProvider
from securebox_auth.emv.cap import IAF_PSN, CapCodec
from securebox_auth.emv.cryptogram import CvnRecipe, get_recipe
from securebox_auth.emv.issuer import IssuerKeyProvider
from securebox_auth.emv.profiles import ReaderProfile, get_profile
from securebox_auth.emv.tlv import DolEntry, parse_dol
from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_auth.identity import luhn_valid

__all__ = ["CapCard", "CardParameters", "PreparedCard", "enrol_card", "pan_digest"]

_PAN: Final = re.compile(r"[0-9]{12,19}")
_PSN: Final = re.compile(r"[0-9]{2}")
_LAST4: Final = re.compile(r"[0-9]{4}")
_MAX_ATC: Final = 0xFFFF
_PAN_DOMAIN: Final = b"securebox/cap/pan/v1\x00"


@dataclass(frozen=True, slots=True, kw_only=True)
class CardParameters:
    """What the issuer knows of a card besides its key (fixed at personalisation)."""

    recipe: str
    aip: bytes
    #: Issuer proprietary bitmap (9F56); ``None`` for the Belgian mix.
    ipb: bytes | None
    #: Issuer authentication flags (9F55).
    iaf: int
    #: The CDOL1 (tag 8C) as the card returns it.
    cdol1: bytes
    #: IAD of a PIN-verified ARQC in the first GENERATE AC.
    predicted_iad: bytes
    predicted_cid: int = 0x80
    #: The reader profile name (``emv.profiles.PROFILES``).
    profile: str


@dataclass(frozen=True, slots=True)
class PreparedCard:
    """The parsed, cached form of a card's static data."""

    recipe: CvnRecipe
    profile: ReaderProfile
    cdol1: tuple[DolEntry, ...]
    codec: CapCodec


@functools.lru_cache(maxsize=1024)
def _prepare(
    recipe: str, profile: str, cdol1: bytes, ipb: bytes | None, iaf: int, psn: bool
) -> PreparedCard:
    chosen = get_profile(profile)
    if ipb is None and not chosen.belgian_fallback:
        raise ConfigurationError(
            f"a card without IPB needs a reader with the Belgian mix, not {profile}"
        )
    return PreparedCard(get_recipe(recipe), chosen, parse_dol(cdol1), CapCodec(ipb, psn))


@dataclass(frozen=True, slots=True, kw_only=True)
class CapCard:
    """What the server stores per card: never the PAN or a key. JSON-safe via
    :meth:`to_dict` / :meth:`from_dict`; ``last_atc`` is the state each success moves."""

    card_id: str
    subject: str
    pan_digest: str
    pan_last4: str
    psn: str
    key_ref: str
    recipe: str
    aip: bytes
    ipb: bytes | None
    iaf: int
    cdol1: bytes
    predicted_cid: int
    predicted_iad: bytes
    profile: str
    enrolled_at: datetime
    last_atc: int | None = None
    last_used_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("card_id", "subject", "pan_digest", "key_ref"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or len(value) > 200:
                raise MalformedInput(f"{name} is 1-200 characters")
        if not _LAST4.fullmatch(self.pan_last4) or not _PSN.fullmatch(self.psn):
            raise MalformedInput("pan_last4 is 4 digits and psn 2 digits")
        if len(self.aip) != 2 or len(self.predicted_iad) > 32 or not 0 <= self.iaf <= 0xFF:
            raise MalformedInput("AIP is 2 bytes, IAD at most 32, IAF one byte")
        if self.last_atc is not None and not 0 <= self.last_atc <= _MAX_ATC:
            raise MalformedInput("last_atc is 0-65535")
        object.__setattr__(self, "enrolled_at", require_aware(self.enrolled_at, "enrolled_at"))
        self.prepared()

    def prepared(self) -> PreparedCard:
        """The parsed recipe, reader profile, CDOL1 and code layout (cached)."""
        return self.prepare(self.recipe, self.profile, self.cdol1, self.ipb, self.iaf)

    @staticmethod
    def prepare(
        recipe: str, profile: str, cdol1: bytes, ipb: bytes | None, iaf: int
    ) -> PreparedCard:
        return _prepare(recipe, profile, cdol1, ipb, iaf, bool(iaf & IAF_PSN))

    def advanced(self, atc: int, now: datetime) -> CapCard:
        """This record after a code of ``atc`` was accepted at ``now``.

        The verifier's transition: every other field is already valid, so this copies them
        instead of validating the whole record again (it runs on every success)."""
        if not 0 <= atc <= _MAX_ATC:
            raise MalformedInput("an ATC is 0-65535")
        new = object.__new__(CapCard)
        for name in _FIELDS:
            object.__setattr__(new, name, getattr(self, name))
        object.__setattr__(new, "last_atc", atc)
        object.__setattr__(new, "last_used_at", require_aware(now))
        return new

    @property
    def psn_byte(self) -> bytes:
        return bytes.fromhex(self.psn)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, bytes):
                value = value.hex()
            elif isinstance(value, datetime):
                value = value.isoformat()
            data[name] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CapCard:
        try:
            values = dict(data)
            for name in ("aip", "cdol1", "predicted_iad"):
                values[name] = bytes.fromhex(values[name])
            values["ipb"] = None if values["ipb"] is None else bytes.fromhex(values["ipb"])
            for name in ("enrolled_at", "last_used_at"):
                if values.get(name) is not None:
                    values[name] = datetime.fromisoformat(values[name])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedInput(f"not a CAP card record ({type(exc).__name__})") from None


_FIELDS: Final = tuple(CapCard.__dataclass_fields__)


def pan_digest(keys: KeyProvider, pan: str) -> str:
    """The keyed hash of a PAN the application keeps instead of the PAN."""
    key_id = keys.current_key_id
    return f"{key_id}:{keys.mac(key_id, _PAN_DOMAIN + pan.encode()).hex()}"


def enrol_card(
    *,
    card_id: str,
    subject: str,
    pan: str,
    psn: str,
    parameters: CardParameters,
    issuer: IssuerKeyProvider,
    pan_keys: KeyProvider,
    now: datetime,
    last_atc: int | None = None,
    actor: str | None = None,
) -> tuple[CapCard, AuditEvent]:
    """Bind a card to ``subject`` (``actor``: who did it, the subject by default). The clear
    PAN goes only to the key provider (which derives the card key) and into a keyed hash;
    the record keeps its last four digits. ``last_atc`` is the card's current ATC when it
    is known (``None`` for a new card: the window then starts at 0)."""
    now = require_aware(now)
    if not isinstance(pan, str) or not _PAN.fullmatch(pan) or not luhn_valid(pan):
        raise MalformedInput("a PAN is 12-19 digits with a valid check digit")
    p = parameters
    card = CapCard(
        card_id=card_id,
        subject=subject,
        pan_digest=pan_digest(pan_keys, pan),
        pan_last4=pan[-4:],
        psn=psn,
        key_ref=issuer.enrol_card(pan, psn),
        recipe=p.recipe,
        aip=p.aip,
        ipb=p.ipb,
        iaf=p.iaf,
        cdol1=p.cdol1,
        predicted_cid=p.predicted_cid,
        predicted_iad=p.predicted_iad,
        profile=p.profile,
        enrolled_at=now,
        last_atc=last_atc,
    )
    event = AuditEvent.make(
        now,
        "cap.enrol",
        actor=actor or subject,
        subject=subject,
        outcome="success",
        details={"card": card_id, "last4": card.pan_last4, "profile": p.profile},
    )
    return card, event
