"""A small CAP world for tests: an issuer, a software card, its server record, a reader.

Nothing here is a mock: the issuer is the software key provider, the card is the software EMV
card answering APDUs, the reader is the reader emulator. :class:`CountingIssuer` is the same
software provider that also counts the cryptograms it computes (how much work a verification
did).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from securebox_auth.cards.cardfile import SoftCardState, demo_card, luhn_pan
from securebox_auth.cards.reader import CapReader, Transport, WrongPin
from securebox_auth.cards.softcard import SoftEmvCard
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.emv.issuer import CryptogramRequest, SoftwareIssuerKeys
from securebox_auth.emv.profiles import ReaderProfile, TerminalInput, get_profile
from securebox_auth.factors.cap import CapCard, CardParameters, enrol_card

NOW: Final = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PIN: Final = "2468"
SUBJECT: Final = "123456789/01"
DEFAULT_PROFILE: Final = {"uk": "pinsentry_uk", "be": "vasco_cap"}


class CountingIssuer(SoftwareIssuerKeys):
    """The software issuer key provider, counting the cryptograms it computes."""

    __slots__ = ("computed",)

    def __init__(self) -> None:
        super().__init__({"imk1": secrets.token_bytes(16)}, "imk1", secrets.token_bytes(32))
        self.computed = 0

    def cryptogram(self, key_ref: str, request: CryptogramRequest) -> bytes:
        self.computed += 1
        return super().cryptogram(key_ref, request)


def parameters_of(state: SoftCardState, profile: str) -> CardParameters:
    """What the issuer records about a card it personalised."""
    return CardParameters(
        recipe=state.recipe,
        aip=state.aip,
        ipb=state.ipb,
        iaf=state.iaf,
        cdol1=state.cdol1,
        predicted_iad=state.predicted_iad(),
        profile=profile,
    )


@dataclass
class CapWorld:
    issuer: CountingIssuer
    app_keys: StaticKeyring
    pan: str
    card: SoftEmvCard
    record: CapCard
    profile: ReaderProfile

    def reader(self, transport: Transport | None = None) -> CapReader:
        return CapReader(transport or self.card, self.profile)

    def code(self, typed: TerminalInput, pin: str = PIN) -> str:
        """Run the card in the reader and return the displayed code."""
        return str(self.reader().run(typed, pin).code)

    def abort(self) -> None:
        """A reader run that stops at a wrong PIN (after GET PROCESSING OPTIONS moved the ATC);
        the PIN try counter is then reset, as the right PIN next time would."""
        try:
            self.code(TerminalInput.identify(), pin="0000")
        except WrongPin:
            self.card.unblock_pin()
        else:  # pragma: no cover - the test card's PIN is never 0000
            raise AssertionError("the wrong PIN was accepted")

    def enrol(self, profile: str | None = None) -> CapCard:
        """Another server record for the same card (another reader profile, say), synced to
        the card's current ATC as an enrolment would be."""
        return _enrol(
            self.issuer, self.app_keys, self.pan, self.card.state, profile or self.profile.name
        )


def _enrol(
    issuer: CountingIssuer, app_keys: StaticKeyring, pan: str, state: SoftCardState, profile: str
) -> CapCard:
    record, _ = enrol_card(
        card_id=f"card-{profile}",
        subject=SUBJECT,
        pan=pan,
        psn=state.psn,
        parameters=parameters_of(state, profile),
        issuer=issuer,
        pan_keys=app_keys,
        now=NOW,
        last_atc=state.atc or None,
    )
    return record


def make_world(
    kind: str = "uk",
    *,
    profile: str | None = None,
    path: Path | None = None,
    changes: Mapping[str, object] | None = None,
) -> CapWorld:
    """A fresh card of ``kind`` (``uk`` or ``be``), its personalisation optionally
    changed (``changes``: fields of :class:`SoftCardState`), personalised and enrolled."""
    issuer = CountingIssuer()
    pan, psn = luhn_pan("999999"), "01"
    state = demo_card(
        kind, master_key=issuer.personalisation_key(pan, psn), pan=pan, psn=psn, pin=PIN
    )
    if changes:
        state = dataclasses.replace(state, **changes)  # type: ignore[arg-type]
    if path is not None:
        state.save(path)
    name = profile or DEFAULT_PROFILE[kind]
    app_keys = StaticKeyring.generate("app")
    return CapWorld(
        issuer=issuer,
        app_keys=app_keys,
        pan=pan,
        card=SoftEmvCard(state, path=path),
        record=_enrol(issuer, app_keys, pan, state, name),
        profile=get_profile(name),
    )
