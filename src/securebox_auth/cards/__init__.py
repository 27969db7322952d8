"""Client side of CAP: a software EMV card, its connection to ``pcscd`` and a reader emulator.

* :mod:`~securebox_auth.cards.cardfile`: a card's personalisation and state, and its file;
* :mod:`~securebox_auth.cards.softcard`: the card answering APDUs (and a blank card);
* :mod:`~securebox_auth.cards.vpcd`: serves cards to ``pcscd`` through ``vpcd``;
* :mod:`~securebox_auth.cards.reader`: the CAP reader emulator, over any transport;
* :mod:`~securebox_auth.cards.pcsc`: the PC/SC transport (pyscard, the ``card`` extra);
* :mod:`~securebox_auth.cards.cli`: ``securebox card new | cap | serve | check``.

Nothing here imports pyscard except :mod:`~securebox_auth.cards.pcsc`, when it is used.
"""

from securebox_auth.cards.cardfile import SoftCardState, demo_card
from securebox_auth.cards.reader import CapReader, CapReading, CardError, PinBlocked, WrongPin
from securebox_auth.cards.softcard import BlankCard, SoftEmvCard
from securebox_auth.cards.vpcd import VpcdServer

__all__ = [
    "BlankCard",
    "CapReader",
    "CapReading",
    "CardError",
    "PinBlocked",
    "SoftCardState",
    "SoftEmvCard",
    "VpcdServer",
    "WrongPin",
    "demo_card",
]
