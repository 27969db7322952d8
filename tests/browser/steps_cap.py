"""Steps of the CAP journeys: a fresh user with a bound software CAP card (prepared with
the library on the server's database, as the demo binds its card), the card in a reader
(the library's reader emulator: the user's device), and the demo's virtual reader page.

The card is a :class:`~securebox_auth.cards.softcard.SoftEmvCard` file personalised by the
demo issuer; each code moves its transaction counter, saved in the file like a real card's
memory. A reader code is what a person reads on the reader's display and types in the page.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from securebox_auth.cards.cardfile import demo_card, luhn_pan
from securebox_auth.cards.reader import CapReader
from securebox_auth.cards.softcard import SoftEmvCard
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.emv.profiles import TerminalInput, get_profile
from securebox_auth.factors.cap import CardParameters
from securebox_server.demo_cap import CAP_KIND, CAP_PROFILE
from securebox_server.demo_reader import DemoCard, add_demo_card
from tests.browser.driver import Tab
from tests.browser.server import BANK, DemoServer, User

__all__ = ["Card", "cap_user", "challenge_shown", "proof_facts", "read_virtual_reader"]


@dataclass(frozen=True, slots=True)
class Card:
    """A user's software CAP card, its PIN, and the reader it is inserted into."""

    name: str
    path: Path
    pin: str

    def _code(self, data: TerminalInput) -> str:
        card = SoftEmvCard.from_file(self.path)  # its counter is saved back after each code
        return CapReader(card, get_profile(CAP_PROFILE)).run(data, self.pin).display

    def identify(self) -> str:
        """The CODE key: a code without a challenge."""
        return self._code(TerminalInput.identify())

    def respond(self, challenge: str) -> str:
        """The Respond key, then the challenge typed into the reader."""
        return self._code(TerminalInput.respond(challenge))


def cap_user(
    server: DemoServer, *, strong_days_ago: float | None = None, listed: bool = False
) -> tuple[User, Card]:
    """A new user (:meth:`DemoServer.user`: code changed, last strong login
    ``strong_days_ago``) with a software CAP card bound by the bank as the demo binds its
    own (:func:`securebox_server.demo_cap.seed_cap_card`): personalised by the demo issuer,
    proved by a first Identify code. ``listed``: the card is also offered by the demo's
    virtual reader page (``/demo/cap-reader``)."""
    user = server.user(strong_days_ago=strong_days_ago)
    box = server.box
    issuer, keys = box.factors.issuer, box.factors.keys
    assert isinstance(issuer, SoftwareIssuerKeys), "the demo has no software CAP issuer"
    assert keys is not None
    name = f"browser-{user.client}"
    pin = f"{secrets.randbelow(10_000):04d}"
    pan, psn = luhn_pan("999999"), "01"
    state = demo_card(
        CAP_KIND, master_key=issuer.personalisation_key(pan, psn), pan=pan, psn=psn, pin=pin
    )
    owner = f"{user.client} / {user.number}"
    if listed:
        path = add_demo_card(server.home / "cards", DemoCard(name, CAP_PROFILE, owner))
    else:
        path = server.home / "browser-cards" / f"{name}.json"
        path.parent.mkdir(exist_ok=True)
    state.save(path)
    card = Card(name, path, pin)
    parameters = CardParameters(
        recipe=state.recipe, aip=state.aip, ipb=state.ipb, iaf=state.iaf, cdol1=state.cdol1,
        predicted_iad=state.predicted_iad(), profile=CAP_PROFILE,
    )  # fmt: skip
    bound = box.factors.cap.bind_card(
        user.principal, card_id=name, pan=pan, psn=psn, parameters=parameters,
        pan_keys=keys, code=card.identify(), actor=BANK.key,
    )  # fmt: skip
    assert bound.ok, bound.reason
    return user, card


def challenge_shown(tab: Tab) -> str:
    """The challenge digits the CAP login page shows (``/login/cap/respond``)."""
    digits = tab.page.inner_text("#challenge").strip()
    assert re.fullmatch(r"[0-9]{8}", digits), digits
    return digits


def proof_facts(tab: Tab, action: str) -> list[str]:
    """What a step-up's CAP proof page (form ``action``) says to type into the reader, in
    order: the challenge, then (Sign) the amount in cents."""
    return [
        text.strip()
        for text in tab.page.locator(f'form[action="{action}"] dd.bound').all_inner_texts()
    ]


def read_virtual_reader(
    reader: Tab, card: Card, challenge: str | None = None, cents: str | None = None
) -> str:
    """The demo's virtual reader page in its own tab, used like a reader: the card chosen,
    Identify (no ``challenge``), Respond with ``challenge`` typed, or Sign with
    ``challenge`` and the amount in ``cents`` typed; the PIN typed, then the code read
    off its display."""
    reader.open("/demo/cap-reader")
    reader.page.select_option("#card", card.name)
    if challenge is None:
        reader.page.check("#mode-identify")
    else:
        reader.page.check("#mode-respond" if cents is None else "#mode-sign")
        reader.fill("challenge", challenge)
    if cents is not None:
        reader.fill("amount", cents)
    reader.fill("pin", card.pin)
    reader.submit("/demo/cap-reader")
    shown = reader.page.inner_text("#reader-code").strip()
    assert shown.isdigit(), shown
    return shown
