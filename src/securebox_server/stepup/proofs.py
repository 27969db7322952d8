"""The proof forms of a step-up, one per kind of answer the library takes.

A method is offered when the policy allows it for the operation *and* this server can take
its answer: codes typed in a form (TOTP, the confidential code) always, passkeys when the
library has a relying party (``static/js/step-up-passkey.js`` runs the ceremony bound to the
operation's digest), a CAP reader when the library has a CAP issuer and the user a card: the
page shows what to type into the reader (``Securebox.step_up_cap_challenge``: Sign the
digits then the amount for a payment, Respond the digits for a linked payee or batch as
``cap_sign``, Respond for an unlinked operation as ``cap_respond``), codes by SMS or
e-mail when the library has that channel's gateway and the user a verified destination
there (:mod:`.oob_proof` sends them, ``Securebox.send_step_up_code`` binding the code to
the operation's digest and naming the amount and payee in the message), a certificate
when the library has trust anchors (``Securebox.step_up_certificate_challenge``, bound to
the operation and its digest, signed by the local signing agent through
``static/js/certificate.js``). Others (smart card) are listed as unavailable until their
pages exist; the library's answer types are in :mod:`securebox_auth.shell.answers`.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Final

from securebox_auth.emv.profiles import CapMode
from securebox_auth.errors import MalformedInput
from securebox_auth.factors.oob import Channel
from securebox_auth.flows.step_up import StepUpFlow
from securebox_auth.shell.answers import (
    Answer,
    CapAnswer,
    CertificateAnswer,
    CodeAnswer,
    OobAnswer,
    PasskeyAnswer,
    TotpAnswer,
)
from securebox_auth.shell.oob import VerifiedDestination
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores import factor_codecs as fc
from securebox_server.methods.oob import mask

__all__ = ["CHANNELS", "LABELS", "ProofForm", "answer", "available", "destinations", "form"]

#: method -> English label (a msgid of the catalogs)
LABELS: Final = {
    "totp": "Authenticator application",
    "confidential_code": "Confidential code",
    "passkey_uv": "Passkey",
    "cap_sign": "CAP reader (Sign)",
    "cap_respond": "CAP reader (Respond)",
    "cap_identify": "CAP reader (Identify)",
    "certificate": "Certificate",
    "smartcard_pin": "Smart card",
    "sms_otp": "Code by SMS",
    "email_otp": "Code by e-mail",
}
_CODES: Final[dict[str, type[TotpAnswer] | type[CodeAnswer]]] = {
    "totp": TotpAnswer,
    "confidential_code": CodeAnswer,
}

#: method -> the channel of its one-time code
CHANNELS: Final = {"sms_otp": Channel.SMS, "email_otp": Channel.EMAIL}


@dataclass(frozen=True, slots=True)
class ProofForm:
    method: str
    label: str
    #: "code" (a typed code), "passkey" (the browser's WebAuthn ceremony), "cap", "oob" or
    #: "certificate" (the signing agent)
    kind: str
    #: the passkey ceremony id, the CAP or certificate challenge id, or the sent code's
    ceremony: str = ""
    #: the passkey options (JSON), or the certificate challenge's payload (base64url)
    options: str = ""
    #: CAP: the card, the reader mode, and what to type into the reader, in order
    card: str = ""
    mode: str = ""
    typed: tuple[str, ...] = ()
    #: codes by SMS or e-mail: (keyed identifier, masked destination) of each verified one
    targets: tuple[tuple[str, str], ...] = ()
    #: the masked destination and keyed identifier a code was sent to
    sent: str = ""
    sent_key: str = ""


def _cards(box: Securebox, flow: StepUpFlow) -> list[str]:
    if box.factors.issuer is None:
        return []
    return [item for item, _ in box.store.factor_states(flow.principal, fc.CAP_CARD)]


def destinations(box: Securebox, flow: StepUpFlow, method: str) -> list[VerifiedDestination]:
    """The user's verified destinations of ``method``'s channel (none without a gateway),
    oldest first."""
    channel = CHANNELS[method]
    if channel.value not in box.gateways:
        return []
    found = box.factors.oob.destinations(flow.principal)
    return sorted((d for d in found if d.channel is channel), key=lambda d: d.verified_at)


def available(box: Securebox, flow: StepUpFlow, method: str) -> bool:
    if method in _CODES:
        return True
    if method in CHANNELS:
        return bool(destinations(box, flow, method))
    if method == "certificate":
        return box.certificates is not None
    if method == "passkey_uv":
        return box.factors.relying_party is not None
    linked = flow.digest is not None
    if (method == "cap_sign" and linked) or (method == "cap_respond" and not linked):
        return bool(_cards(box, flow))
    return False


def form(
    box: Securebox,
    session_id: str,
    handle: str,
    flow: StepUpFlow,
    method: str,
    *,
    sent: VerifiedDestination | None = None,
    challenge_id: str = "",
) -> ProofForm:
    """The form for ``method``; :class:`MalformedInput` when the operation does not offer it
    or this server cannot take it. For a code by SMS or e-mail, ``sent`` and
    ``challenge_id`` name the code sent (nothing is sent here)."""
    challenge = flow.challenge
    if challenge is None or method not in challenge.methods or not available(box, flow, method):
        raise MalformedInput("this method is not offered for this operation")
    label = LABELS[method]
    if method in _CODES:
        return ProofForm(method, label, "code")
    if method in CHANNELS:
        channel = CHANNELS[method]
        targets = tuple(
            (d.key, mask(channel, d.destination)) for d in destinations(box, flow, method)
        )
        if sent is None:
            return ProofForm(method, label, "oob", targets=targets)
        shown = mask(channel, sent.destination)
        return ProofForm(
            method, label, "oob", challenge_id, targets=targets, sent=shown, sent_key=sent.key
        )
    if method == "passkey_uv":
        options, ceremony = box.step_up_passkey_options(session_id, handle)
        return ProofForm(method, label, "passkey", ceremony, json.dumps(options, sort_keys=True))
    if method == "certificate":
        issued = box.step_up_certificate_challenge(session_id, handle)
        payload = base64.urlsafe_b64encode(issued.payload()).rstrip(b"=").decode("ascii")
        return ProofForm(method, label, "certificate", issued.challenge_id, payload)
    card = _cards(box, flow)[0]
    mode = CapMode.SIGN if flow.request.payment is not None else CapMode.RESPOND
    challenge_id, typed = box.step_up_cap_challenge(session_id, handle, card, mode)
    return ProofForm(method, label, "cap", challenge_id, card=card, mode=mode.value, typed=typed)


def answer(
    method: str, *, code: str, ceremony: str, response: str, card: str = "", mode: str = ""
) -> Answer:
    """The library answer a submitted proof form stands for."""
    if method in _CODES:
        return _CODES[method](code.strip())
    if method == "passkey_uv":
        if not ceremony or not response:
            raise MalformedInput("the passkey did not answer")
        return PasskeyAnswer(ceremony, response)
    if method in ("cap_sign", "cap_respond"):
        if not ceremony or not card or mode not in (CapMode.SIGN.value, CapMode.RESPOND.value):
            raise MalformedInput("the CAP form is incomplete")
        return CapAnswer(card, code.strip(), ceremony, CapMode(mode))
    if method == "certificate":
        raw = _b64url(response) if ceremony and response else None
        if raw is None:  # the script did not run, or sent garbage: nothing verified
            raise MalformedInput("the signing agent did not answer")
        return CertificateAnswer(ceremony, raw)
    if method in CHANNELS:
        if not ceremony:
            raise MalformedInput("no code was sent")
        return OobAnswer(ceremony, code.strip(), CHANNELS[method])
    raise MalformedInput("this method is not offered for this operation")


def _b64url(text: str) -> bytes | None:
    """Strict base64url (what the agent sends); ``None`` for anything else or nothing."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw or None
