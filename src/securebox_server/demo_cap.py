"""The demo's CAP card: a software card personalised by the demo issuer, its file in
``demo_cards_dir`` (for the virtual reader page), bound to a demo user the way a bank
binds a card: by a first valid code, computed here by the reader emulator."""

from __future__ import annotations

import secrets
from typing import Final

from securebox_auth.cards.cardfile import demo_card, luhn_pan
from securebox_auth.cards.reader import CapReader
from securebox_auth.cards.softcard import SoftEmvCard
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.emv.profiles import TerminalInput, get_profile
from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.cap import CardParameters
from securebox_auth.identity import Principal
from securebox_auth.shell.securebox import Securebox
from securebox_server.demo_reader import DemoCard, add_demo_card
from securebox_server.settings import Settings

__all__ = ["CAP_CARD_ID", "CAP_PROFILE", "seed_cap_card"]

CAP_CARD_ID: Final = "demo-cap-card"
#: The UK card template read by a PinSentry-style reader (Identify and Respond).
CAP_KIND: Final = "uk"
CAP_PROFILE: Final = "pinsentry_uk"


def seed_cap_card(
    box: Securebox, settings: Settings, bank: Operator, principal: Principal, code: str
) -> str | None:
    """Create ``principal`` (confidential code ``code``) with a bound software CAP card;
    the line telling how to log in, or ``None`` when the settings have no CAP issuer
    file or no demo cards directory (CAP is then not part of this demo)."""
    issuer, directory = box.factors.issuer, settings.demo_cards_dir
    if directory is None or settings.cap_issuer_file is None:
        return None
    if not isinstance(issuer, SoftwareIssuerKeys) or box.factors.keys is None:
        raise ConfigurationError("the demo's CAP card needs the software issuer keys")
    one_time = box.codes.create_account(bank, principal, Role.USER)
    box.codes.change_code(principal.client_id.value, principal.user_number.value,
                          one_time.reveal(), code)  # fmt: skip
    pin = f"{secrets.randbelow(10_000):04d}"
    pan, psn = luhn_pan("999999"), "01"
    state = demo_card(
        CAP_KIND, master_key=issuer.personalisation_key(pan, psn), pan=pan, psn=psn, pin=pin
    )
    owner = f"{principal.client_id.value} / {principal.user_number.value}"
    path = add_demo_card(directory, DemoCard(CAP_CARD_ID, CAP_PROFILE, owner))
    state.save(path)
    card = SoftEmvCard(state, path=path)
    first = CapReader(card, get_profile(CAP_PROFILE)).run(TerminalInput.identify(), pin)
    parameters = CardParameters(
        recipe=state.recipe, aip=state.aip, ipb=state.ipb, iaf=state.iaf, cdol1=state.cdol1,
        predicted_iad=state.predicted_iad(), profile=CAP_PROFILE,
    )  # fmt: skip
    bound = box.factors.cap.bind_card(
        principal, card_id=CAP_CARD_ID, pan=pan, psn=psn, parameters=parameters,
        pan_keys=box.factors.keys, code=first.display, actor=bank.key,
    )  # fmt: skip
    if not bound.ok:
        raise ConfigurationError(f"the demo CAP card was not bound ({bound.reason})")
    return (
        f"{owner}: CAP card, PIN {pin}: compute a code at /demo/cap-reader (Identify, "
        f"or Respond with the challenge of /login/cap/respond) and type it at /login/cap "
        f"(code {code} as well)"
    )
