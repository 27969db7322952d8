"""The proof forms of a step-up, one per kind of answer the library takes.

A method is offered when the policy allows it for the operation *and* this server can take
its answer: codes typed in a form (TOTP, the confidential code) always, passkeys when the
library has a relying party (``static/js/step-up-passkey.js`` runs the ceremony bound to the
operation's digest). Others (CAP, certificate, SMS) are listed as unavailable here until their
pages exist; the library's answer types are in :mod:`securebox_auth.shell.answers`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from securebox_auth.errors import MalformedInput
from securebox_auth.flows.step_up import StepUpFlow
from securebox_auth.shell.answers import Answer, CodeAnswer, PasskeyAnswer, TotpAnswer
from securebox_auth.shell.securebox import Securebox

__all__ = ["LABELS", "ProofForm", "answer", "available", "form"]

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


@dataclass(frozen=True, slots=True)
class ProofForm:
    method: str
    label: str
    #: "code" (a typed code) or "passkey" (the browser's WebAuthn ceremony)
    kind: str
    ceremony: str = ""
    options: str = ""


def available(box: Securebox, method: str) -> bool:
    if method in _CODES:
        return True
    return method == "passkey_uv" and box.factors.relying_party is not None


def form(box: Securebox, session_id: str, handle: str, flow: StepUpFlow, method: str) -> ProofForm:
    """The form for ``method``; :class:`MalformedInput` when the operation does not offer it
    or this server cannot take it."""
    challenge = flow.challenge
    if challenge is None or method not in challenge.methods or not available(box, method):
        raise MalformedInput("this method is not offered for this operation")
    label = LABELS[method]
    if method in _CODES:
        return ProofForm(method, label, "code")
    options, ceremony = box.step_up_passkey_options(session_id, handle)
    return ProofForm(method, label, "passkey", ceremony, json.dumps(options, sort_keys=True))


def answer(method: str, *, code: str, ceremony: str, response: str) -> Answer:
    """The library answer a submitted proof form stands for."""
    if method in _CODES:
        return _CODES[method](code.strip())
    if method == "passkey_uv":
        if not ceremony or not response:
            raise MalformedInput("the passkey did not answer")
        return PasskeyAnswer(ceremony, response)
    raise MalformedInput("this method is not offered for this operation")
