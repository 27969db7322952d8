"""The page of a refused step-up, and what the user can do about it.

When the policy refuses an operation because none of the user's enrolled methods can
approve it (the library's ``no_enrolled_method`` decision: a new third party with a code and
a mobile only, asked for a change of rights that wants an authenticator application, a
passkey or a card), the page says so and links to the profile pages that add a method the
operation accepts, among those this server offers; any other refusal keeps the general
message. The methods come from the policy, so the page never offers one it would refuse."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.responses import Response

from securebox_auth.policy.decision import Deny, Reason
from securebox_server.stepup.requests import Kind
from securebox_server.web.context import server_of
from securebox_server.web.pages import render

__all__ = ["Addable", "addable_methods", "refused_page"]


@dataclass(frozen=True, slots=True)
class Addable:
    """A method the user may add from their profile: its page and its name's message id."""

    path: str
    label: str


_TOTP = Addable("/profile/totp", "an authenticator application (TOTP)")
_PASSKEY = Addable("/profile/passkeys/add", "a passkey with its PIN, fingerprint or face")
_CERTIFICATE = Addable("/profile/certificates/add", "the certificate of your token or card")


def addable_methods(request: Request, kind: Kind) -> tuple[Addable, ...]:
    """The profile pages adding a method the policy accepts for ``kind``, in page order."""
    box = server_of(request).box
    rule = box.policy.operation(kind.operation)
    if rule is None:
        return ()
    accepted = set(rule.methods)
    found: list[Addable] = []
    if "totp" in accepted:
        found.append(_TOTP)
    if box.factors.relying_party is not None and "passkey_uv" in accepted:
        found.append(_PASSKEY)
    if box.certificates is not None and accepted & {"certificate", "smartcard_pin"}:
        found.append(_CERTIFICATE)
    return tuple(found)


def refused_page(
    request: Request, kind: Kind, decision: object = None, *, status: int = 403
) -> Response:
    """The refusal page; with the ways to add a method when none enrolled can approve."""
    if isinstance(decision, Deny) and decision.reason is Reason.NO_ENROLLED_METHOD:
        return render(
            request, "stepup/refused.html", status=status, kind=kind, changed=False,
            reason="no_enrolled_method", addable=addable_methods(request, kind),
        )  # fmt: skip
    return render(request, "stepup/refused.html", status=status, kind=kind, changed=False)
