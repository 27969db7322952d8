"""Stands in for the bank's card issuing system and for the customer's CAP reader.

In production the cards are real bank cards, personalised by the card issuer, whose master
keys live in an HSM (securebox reaches them through an ``IssuerKeyProvider``), and the reader
is a PinSentry- or Vasco-style device on the customer's desk. Here both are securebox's
software card and reader emulator (``docs/factors/cap.md``), so the demo and the tests
compute real EMV-CAP codes: the card MACs what the reader sends, the server recomputes it.
Nothing in the portal's login or step-up uses this module.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from securebox_auth import Operator, Principal, Securebox
from securebox_auth.cards.cardfile import SoftCardState, demo_card, luhn_pan
from securebox_auth.cards.reader import CapReader
from securebox_auth.cards.softcard import SoftEmvCard
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.emv.profiles import TerminalInput, get_profile, numeric_currency
from securebox_auth.factors.cap import CardParameters

__all__ = ["CAP_PROFILE", "CapCardFile", "issue_cap_card"]

#: A UK card template read by a PinSentry-style reader: Identify, Respond and Sign.
CAP_KIND: Final = "uk"
CAP_PROFILE: Final = "pinsentry_uk"


@dataclass(frozen=True, slots=True)
class CapCardFile:
    """A software card in its file, and the reader the customer puts it in."""

    card_id: str
    path: Path
    pin: str = field(repr=False)

    def _run(self, typed: TerminalInput, pin: str | None) -> str:
        card = SoftEmvCard(SoftCardState.load(self.path), path=self.path)
        reading = CapReader(card, get_profile(CAP_PROFILE)).run(typed, pin or self.pin)
        return reading.display

    def identify(self, pin: str | None = None) -> str:
        """The reader's CODE key: a login code."""
        return self._run(TerminalInput.identify(), pin)

    def respond(self, digits: str, pin: str | None = None) -> str:
        """The reader's challenge key: a code over the 8 digits the portal shows."""
        return self._run(TerminalInput.respond(digits), pin)

    def sign(
        self, digits: str, amount_minor: int, currency: str = "EUR", pin: str | None = None
    ) -> str:
        """The reader's sign key: a code over the digits and the amount typed after them."""
        typed = TerminalInput.sign(digits, amount_minor, numeric_currency(currency))
        return self._run(typed, pin)


def issue_cap_card(
    box: Securebox,
    issuer: SoftwareIssuerKeys,
    principal: Principal,
    *,
    directory: Path,
    card_id: str,
    pin: str | None = None,
) -> CapCardFile:
    """Personalise a software card with ``issuer``'s keys, save it in ``directory``, and
    bind it to ``principal`` the way the bank's back office does: proved by a first
    Identify code of the card (audited ``cap.enrol`` with the back office as actor)."""
    pin = pin or f"{secrets.randbelow(10_000):04d}"
    pan, psn = luhn_pan("999999"), "01"
    state = demo_card(
        CAP_KIND, master_key=issuer.personalisation_key(pan, psn), pan=pan, psn=psn, pin=pin
    )
    directory.mkdir(parents=True, exist_ok=True)
    card = CapCardFile(card_id, directory / f"{card_id}.json", pin)
    state.save(card.path)
    parameters = CardParameters(
        recipe=state.recipe, aip=state.aip, ipb=state.ipb, iaf=state.iaf, cdol1=state.cdol1,
        predicted_iad=state.predicted_iad(), profile=CAP_PROFILE,
    )  # fmt: skip
    keys = box.factors.keys
    if keys is None:  # pragma: no cover - from_policy always derives the application keys
        raise RuntimeError("securebox has no application keys")
    bound = box.factors.cap.bind_card(
        principal, card_id=card_id, pan=pan, psn=psn, parameters=parameters, pan_keys=keys,
        code=card.identify(), actor=Operator("back-office").key,
    )  # fmt: skip
    if not bound.ok:  # pragma: no cover - a fresh card's first code is right
        raise RuntimeError(f"the card was not bound: {bound.reason}")
    return card
