"""A CAP code verified through the core with a window of 20, against one bare ARQC check
(session key + MAC algorithm 3 + compare) of the same card, measured in the same run.
Target: <= 3x (docs/performance targets). The verifier reads back the ATC bits the code
reveals before any MAC, so a window of 20 costs about one cryptogram.

Warm and cold. The key provider keeps, per card, the unwrapped master key and its 3DES key
schedule (an ECB context): the warm row verifies a card seen before, against a bare check
that holds the key schedule as the verifier holds it (``session_key_from`` on a prepared
context). The cold row verifies with a key provider that has not seen the card (its master
key unwrapped with AES-GCM, its key schedule built), against a bare check that builds the
key schedule from the clear master key every time.

Two card families: a Belgian-style M/Chip CVN 16 card (8 ATC bits revealed) and a UK
NatWest-style Visa CVN 10 card (5 ATC bits revealed).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime

from harness import Comparison, compare

from securebox_auth.cards.cardfile import demo_card, luhn_pan
from securebox_auth.cards.reader import CapReader
from securebox_auth.cards.softcard import SoftEmvCard
from securebox_auth.crypto.keys import StaticKeyring
from securebox_auth.emv.cryptogram import application_cryptogram, cryptogram_input, get_recipe
from securebox_auth.emv.derivation import session_key_from
from securebox_auth.emv.des import ecb_encryptor
from securebox_auth.emv.genac import CryptogramType, GenerateAcResponse
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.emv.mac import retail_mac
from securebox_auth.emv.profiles import TerminalInput, dol_data, get_profile
from securebox_auth.emv.tlv import parse_dol
from securebox_auth.factors.cap import CapRequest, CapRules, CardParameters, enrol_card, verify_cap
from securebox_auth.lockout.rules import LockoutRules, LockoutState

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PIN = "2468"
PROFILES = {"be": "vasco_cap", "uk": "pinsentry_uk"}


def _comparisons(kind: str, rounds: int) -> list[Comparison]:
    imk, wrap = secrets.token_bytes(16), secrets.token_bytes(32)
    issuer = SoftwareIssuerKeys({"imk1": imk}, "imk1", wrap)
    pan, psn = luhn_pan("999999"), "01"
    mk = issuer.personalisation_key(pan, psn)
    state = demo_card(kind, master_key=mk, pan=pan, psn=psn, pin=PIN)
    profile = get_profile(PROFILES[kind])
    parameters = CardParameters(
        recipe=state.recipe,
        aip=state.aip,
        ipb=state.ipb,
        iaf=state.iaf,
        cdol1=state.cdol1,
        predicted_iad=state.predicted_iad(),
        profile=profile.name,
    )
    record, _ = enrol_card(
        card_id="bench",
        subject="123456789/01",
        pan=pan,
        psn=psn,
        parameters=parameters,
        issuer=issuer,
        pan_keys=StaticKeyring.generate(),
        now=NOW,
    )
    card = SoftEmvCard(state)
    for _ in range(9):  # the code to verify is the card's 10th: ATC 10, inside the window
        CapReader(card, profile).run(TerminalInput.identify(), PIN)
    code = str(CapReader(card, profile).run(TerminalInput.identify(), PIN).code)
    request, lockout, rules = CapRequest.identify(), LockoutState(), LockoutRules()
    window = CapRules(window=20)

    def verify() -> None:
        verdict = verify_cap(
            record, request, code, lockout=lockout, now=NOW, issuer=issuer,
            lockout_rules=rules, rules=window,
        )  # fmt: skip
        assert verdict.ok

    # the bare check: what the card computed for ATC 10, recomputed and compared once
    recipe = get_recipe(state.recipe)
    terminal = dol_data(parse_dol(state.cdol1), profile.values(request.terminal, iaf=state.iaf))
    iad = state.predicted_iad()
    expected = application_cryptogram(
        recipe, mk, terminal=terminal, aip=state.aip, atc=10, un=bytes(4), iad=iad
    )
    assert GenerateAcResponse(int(CryptogramType.ARQC), 10, expected, iad).ac == expected

    def cold() -> None:  # a key provider that has not seen the card yet
        verdict = verify_cap(
            record, request, code, lockout=lockout, now=NOW,
            issuer=SoftwareIssuerKeys({"imk1": imk}, "imk1", wrap),
            lockout_rules=rules, rules=window,
        )  # fmt: skip
        assert verdict.ok

    context = ecb_encryptor(mk)  # the key schedule, held as the key provider holds it

    def bare_warm() -> None:
        data = cryptogram_input(recipe, terminal=terminal, aip=state.aip, atc=10, iad=iad)
        key = session_key_from(context, recipe.session, 10, bytes(4)) or mk
        assert hmac.compare_digest(retail_mac(key, data, recipe.padding), expected)

    def bare_cold() -> None:
        ac = application_cryptogram(
            recipe, mk, terminal=terminal, aip=state.aip, atc=10, un=bytes(4), iad=iad
        )
        assert hmac.compare_digest(ac, expected)

    return [
        compare(
            (f"CAP verify, window 20, warm ({state.recipe})", verify),
            (f"one ARQC check, key schedule held ({state.recipe})", bare_warm),
            target=3.0,
            rounds=rounds,
            inner=200,
        ),
        compare(
            (f"CAP verify, window 20, cold ({state.recipe})", cold),
            (f"one ARQC check, key schedule built ({state.recipe})", bare_cold),
            target=3.0,
            rounds=rounds,
            inner=200,
        ),
    ]


def run(quick: bool = False) -> list[Comparison]:
    rounds = 5 if quick else 15
    return [*_comparisons("be", rounds), *_comparisons("uk", rounds)]
