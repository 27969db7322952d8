"""The demo's CAP card: a software card personalised by the demo issuer, its file in
``demo_cards_dir`` (for the virtual reader page), bound to a demo user the way a bank
binds a card: by a first valid code, computed here by the reader emulator."""

from __future__ import annotations

import re
import secrets
from typing import Final

import httpx

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

__all__ = ["CAP_CARD_ID", "CAP_PROFILE", "check_cap_login", "demo_pin", "seed_cap_card"]

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


_PIN_LINE: Final = re.compile(r"CAP card, PIN ([0-9]{4,12})")
_TOKEN: Final = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
_DISPLAY: Final = re.compile(r'id="reader-code"[^>]*>([0-9]{8})<')


def demo_pin(lines: list[str]) -> str | None:
    """The demo card's PIN from :func:`seed_cap_card`'s line (``None``: no CAP card)."""
    found = next((m for line in lines if (m := _PIN_LINE.search(line))), None)
    return None if found is None else found.group(1)


def check_cap_login(http: httpx.Client, client_id: str, user: str, pin: str) -> bool:
    """``securebox demo --check``: a code from the virtual reader logs ``user`` in over
    HTTP (a fresh client: its own cookies)."""

    def csrf(html: str) -> str:
        found = _TOKEN.search(html)
        return found.group(1) if found else ""

    page = http.get("/login")
    page = http.post("/login", data={"client_id": client_id, "csrf_token": csrf(page.text)})
    http.post(
        "/login/user",
        data={"client_id": client_id, "user_number": user, "csrf_token": csrf(page.text)},
    )
    reader = http.get("/demo/cap-reader")
    form = {"card": CAP_CARD_ID, "pin": pin, "mode": "identify", "csrf_token": csrf(reader.text)}
    shown = _DISPLAY.search(http.post("/demo/cap-reader", data=form).text)
    if shown is None:
        return False
    page = http.get("/login/cap")
    done = http.post("/login/cap", data={"code": shown.group(1), "csrf_token": csrf(page.text)})
    return done.status_code == 200 and "/logout" in done.text
