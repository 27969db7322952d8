"""The demo's virtual CAP reader (``/demo/cap-reader``, demo mode only): a page standing
in for a PinSentry or Vasco reader, so CAP login (Identify, Respond) and the step-up of a
payment (Sign: the challenge and the amount in cents the approval page shows) can be tried
in a browser without hardware.

It drives the library's software card (:class:`~securebox_auth.cards.softcard.SoftEmvCard`,
its file in ``demo_cards_dir``) through the reader emulator
(:class:`~securebox_auth.cards.reader.CapReader`): SELECT, GET PROCESSING OPTIONS, READ
RECORD, VERIFY of the PIN typed here, GENERATE AC, then the IPB filter, exactly as
``securebox card cap --card FILE`` does. The card's ATC and PIN try counter are saved to
its file after every command, like a real card's memory.

The cards are listed in ``index.json`` of that directory (written by
:func:`add_demo_card`, from ``demo_data``). The router is included by ``create_app`` only
when ``settings.demo`` is set, and ``demo_cards_dir`` is refused outside demo mode.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.cards.reader import CapReader, PinBlocked, WrongPin
from securebox_auth.cards.softcard import SoftEmvCard
from securebox_auth.emv.profiles import TerminalInput, get_profile, numeric_currency
from securebox_auth.errors import SecureboxError
from securebox_server.login.flow import hit_limits
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import SecureRoute

__all__ = ["DemoCard", "add_demo_card", "demo_cards", "router"]

router = APIRouter(route_class=SecureRoute)
TEMPLATE: Final = "demo/cap_reader.html"
INDEX: Final = "index.json"
_NAME: Final = re.compile(r"[a-z0-9-]{1,40}")
_PIN: Final = re.compile(r"[0-9]{4,12}")
_CHALLENGE: Final = re.compile(r"[0-9]{1,8}")
_AMOUNT: Final = re.compile(r"[0-9]{1,10}")
#: The currency of the demo's payments (its transfer form takes euros).
CURRENCY: Final = numeric_currency("EUR")
#: One reader run at a time: the card file is read, used and written back as one step.
_LOCK: Final = threading.Lock()


@dataclass(frozen=True, slots=True)
class DemoCard:
    """A demo card: its name (``<name>.json`` is its file), reader profile and owner."""

    name: str
    profile: str
    owner: str


def demo_cards(directory: Path | None) -> list[DemoCard]:
    """The cards listed in ``directory``'s index (none when there is no directory)."""
    if directory is None:
        return []
    try:
        entries = json.loads((directory / INDEX).read_text(encoding="utf-8"))
        return [DemoCard(**entry) for entry in entries if _NAME.fullmatch(entry["name"])]
    except (OSError, ValueError, TypeError, KeyError):
        return []


def add_demo_card(directory: Path, card: DemoCard) -> Path:
    """List ``card`` in ``directory``'s index; the path its card file must have."""
    if not _NAME.fullmatch(card.name):
        raise ValueError("a demo card name is 1-40 lowercase letters, digits and dashes")
    directory.mkdir(parents=True, exist_ok=True)
    cards = [c for c in demo_cards(directory) if c.name != card.name] + [card]
    (directory / INDEX).write_text(json.dumps([asdict(c) for c in cards], indent=2), "utf-8")
    return directory / f"{card.name}.json"


@dataclass(frozen=True, slots=True)
class _Typed:
    """What the form had (shown again; never the PIN)."""

    chosen: str = ""
    mode: str = "identify"
    challenge: str = ""
    amount: str = ""


def _page(
    request: Request,
    keep: _Typed = _Typed(),
    *,
    status: int = 200,
    display: str | None = None,
    error: str | None = None,
    field: str = "pin",
    tries_left: int | None = None,
    notice: str | None = None,
) -> Response:
    cards = demo_cards(server_of(request).settings.demo_cards_dir)
    return render(
        request,
        TEMPLATE,
        status=status,
        cards=cards,
        chosen=keep.chosen or (cards[0].name if cards else ""),
        mode=keep.mode,
        challenge=keep.challenge,
        amount=keep.amount,
        display=display,
        error=error,
        error_field=field,
        tries_left=tries_left,
        notice=notice,
    )


@router.get("/demo/cap-reader")
def reader_page(request: Request) -> Response:
    return _page(request)


@router.post("/demo/cap-reader")
def reader_run(
    request: Request,
    card: str = Form(default="", max_length=64),
    pin: str = Form(default="", max_length=64),
    mode: str = Form(default="identify", max_length=16),
    challenge: str = Form(default="", max_length=64),
    amount: str = Form(default="", max_length=64),
    unblock: str = Form(default="", max_length=8),
) -> Response:
    hit_limits(request, "demo.cap_reader")
    directory = server_of(request).settings.demo_cards_dir
    found = next((c for c in demo_cards(directory) if c.name == card), None)
    mode = mode if mode in ("identify", "respond", "sign") else "identify"
    challenge, amount = challenge.strip(), amount.strip()
    keep = _Typed(card, mode, challenge, amount)
    if found is None or directory is None:
        return _page(request, keep, status=400, error="Choose a demo card.", field="card")
    path = directory / f"{found.name}.json"
    if unblock:  # the demo's stand-in for the bank's PIN unblock
        with _LOCK:
            SoftEmvCard.from_file(path).unblock_pin()
        return _page(request, keep, notice="The PIN try counter was reset.")
    if not _PIN.fullmatch(pin):
        return _page(request, keep, status=400, error="The PIN is 4 to 12 digits.")
    if mode != "identify" and not _CHALLENGE.fullmatch(challenge):
        message = "Type the challenge shown on the login or approval page (up to 8 digits)."
        return _page(request, keep, status=400, error=message, field="challenge")
    if mode == "sign" and not _AMOUNT.fullmatch(amount):
        message = "Type the amount in cents shown on the approval page."
        return _page(request, keep, status=400, error=message, field="amount")
    if mode == "sign":
        data = TerminalInput.sign(challenge, int(amount), CURRENCY)
    elif mode == "respond":
        data = TerminalInput.respond(challenge)
    else:
        data = TerminalInput.identify()
    try:
        with _LOCK:
            reading = CapReader(SoftEmvCard.from_file(path), get_profile(found.profile)).run(
                data, pin
            )
    except WrongPin as exc:
        message = "Wrong PIN."
        return _page(request, keep, status=400, error=message, tries_left=exc.tries_left)
    except PinBlocked:
        return _page(request, keep, status=400, error="The card's PIN is blocked.")
    except SecureboxError:
        message = "The card could not compute a code."
        return _page(request, keep, status=400, error=message, field="card")
    return _page(request, keep, display=reading.display)
