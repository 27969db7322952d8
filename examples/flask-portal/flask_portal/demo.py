"""The demo's software CAP reader (``python3 -m flask_portal`` only, never in production):
the cards the demo's issuer personalised are files in the instance folder; this page puts
one in the reader emulator and shows the code a real reader would display."""

from __future__ import annotations

import re
from typing import Final

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from securebox_auth import MalformedInput, Money
from securebox_auth.cards.reader import CardError

from flask_portal.card_issuer import CapCardFile
from flask_portal.portal import current_portal

__all__ = ["CARDS", "bp"]

bp = Blueprint("demo", __name__, url_prefix="/demo")
#: The folder of the demo's card files, under the instance folder.
CARDS: Final = "cards"
_CARD_ID: Final = re.compile(r"[a-z0-9-]{1,40}")
_DIGITS: Final = re.compile(r"[0-9]{1,8}")
_PIN: Final = re.compile(r"[0-9]{4,12}")


def _cards() -> list[str]:
    folder = current_portal().settings.instance / CARDS
    return sorted(p.stem for p in folder.glob("*.json"))


@bp.get("/reader")
def reader() -> ResponseReturnValue:
    return render_template("demo_reader.html", cards=_cards(), code=None, problem=None)


@bp.post("/reader")
def use_reader() -> ResponseReturnValue:
    form = request.form
    card_id, pin, mode = form.get("card", ""), form.get("pin", ""), form.get("mode", "")
    digits, amount = form.get("digits", "").strip(), form.get("amount", "").strip()
    cards = _cards()
    problem = None
    if card_id not in cards or not _CARD_ID.fullmatch(card_id) or not _PIN.fullmatch(pin):
        problem = "Choose a card and type its PIN."
    elif mode in {"respond", "sign"} and not _DIGITS.fullmatch(digits):
        problem = "Type the digits the portal shows."
    if problem is not None:
        return render_template("demo_reader.html", cards=cards, code=None, problem=problem), 400
    folder = current_portal().settings.instance / CARDS
    card = CapCardFile(card_id, folder / f"{card_id}.json", pin)
    try:
        if mode == "respond":
            code = card.respond(digits)
        elif mode == "sign":
            code = card.sign(digits, Money.parse(amount, "EUR").minor)
        else:
            code = card.identify()
    except (CardError, MalformedInput) as bad:  # a wrong PIN, a bad amount
        problem = f"The reader says: {bad.code}."
        return render_template("demo_reader.html", cards=cards, code=None, problem=problem), 400
    return render_template("demo_reader.html", cards=cards, code=code, problem=None)
