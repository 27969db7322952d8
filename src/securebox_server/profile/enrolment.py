"""Enrolment pages of the profile: the TOTP application (QR code made by the library with
segno, ADR 0015, and the key for manual entry; confirmed by a first code), the certificate
(shown; enrolled with the local signing agent, which signs a challenge of purpose
``certificate.enrol`` with the token's key while the library checks the certificate's chain,
validity and revocation; removed), and recovery codes (a new set shown once; the previous
set stops working). Every change here follows the library's rule for a sensitive change
(:func:`~.web.sensitive`)."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.errors import MalformedInput, NotPermitted, SecureboxError, StepUpNeeded
from securebox_server.login.flow import hit_limits, see_other
from securebox_server.methods.certificate import MAX_CERTIFICATE, MAX_SIGNATURE, b64url
from securebox_server.profile import factors
from securebox_server.profile.web import Refused, refused_page, sensitive
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)
_NO_STORE = {"Cache-Control": "no-store"}


def _secret_page(request: Request, template: str, **values: Any) -> Response:
    """A page showing a secret once: never cached."""
    response = render(request, template, **values)
    response.headers.update(_NO_STORE)
    return response


# -- TOTP ------------------------------------------------------------------------------------


@router.get("/profile/totp")
def totp_page(request: Request, web: LoggedIn) -> Response:
    state = factors.totp_status(server_of(request).box, web.session.principal)
    confirmed = request.query_params.get("confirmed") == "1"
    return render(request, "profile/totp.html", state=state, confirmed=confirmed)


@router.post("/profile/totp")
def begin_totp(request: Request, web: LoggedIn, replace: str = Form(default="")) -> Response:
    box = server_of(request).box
    try:
        sensitive(request, web, ("totp",))
        enrolment = box.enrol_totp(
            web.session_id, issuer=box.issuer.replace(":", " ")[:64], replace=replace == "1"
        )
    except Refused as refused:
        return refused_page(request, refused)
    except NotPermitted:  # a confirmed application exists and ``replace`` was not asked
        return render(request, "profile/totp.html", status=409, state="active", conflict=True)
    return _secret_page(
        request, "profile/totp_new.html", qr=enrolment.qr_svg(), secret=enrolment.secret()
    )


@router.post("/profile/totp/confirm")
def confirm_totp(
    request: Request, web: LoggedIn, code: str = Form(default="", max_length=16)
) -> Response:
    principal = web.session.principal
    hit_limits(request, "second_factor", principal.key)
    box = server_of(request).box
    try:
        ok = box.confirm_totp(principal, code)
    except MalformedInput:
        ok = False
    if not ok:
        state = factors.totp_status(box, principal)
        return render(request, "profile/totp.html", status=400, state=state, failed=True)
    return see_other("/profile/totp?confirmed=1")


@router.post("/profile/totp/remove")
def remove_totp(request: Request, web: LoggedIn) -> Response:
    try:
        principal = sensitive(request, web, ("totp",))
    except Refused as refused:
        return refused_page(request, refused)
    factors.remove_totp(server_of(request).box, principal)
    return see_other("/profile/totp?removed=1")


# -- certificates ----------------------------------------------------------------------------


@router.get("/profile/certificates")
def certificates_page(request: Request, web: LoggedIn) -> Response:
    box = server_of(request).box
    found = factors.certificate_of(box, web.session.principal)
    return render(
        request, "profile/certificates.html", certificate=found,
        available=box.certificates is not None,
        enrolled=request.query_params.get("enrolled") == "1",
    )  # fmt: skip


_CERT_ADD = "profile/certificate_add.html"
_CERTIFICATE = ("certificate", "smartcard_pin")


def _add_certificate_page(
    request: Request, web: LoggedIn, *, status: int = 200, failed: bool = False
) -> Response:
    """The enrolment form: a challenge of purpose ``certificate.enrol`` for the agent."""
    server = server_of(request)
    box = server.box
    values: dict[str, Any] = {"failed": failed, "challenge": "", "challenge_id": ""}
    values["agent"] = server.settings.agent_url
    if box.certificates is None:
        return render(request, _CERT_ADD, status=status, refused="unavailable", **values)
    try:
        challenge = box.certificate_enrolment_challenge(web.session_id)
    except StepUpNeeded:
        return render(request, _CERT_ADD, status=403, refused="not_strong", **values)
    except NotPermitted:
        return render(request, _CERT_ADD, status=403, refused="not_permitted", **values)
    payload = base64.urlsafe_b64encode(challenge.payload()).rstrip(b"=").decode("ascii")
    values.update(challenge=payload, challenge_id=challenge.challenge_id)
    return render(request, _CERT_ADD, status=status, refused=None, **values)


@router.get("/profile/certificates/add")
def add_certificate_page(request: Request, web: LoggedIn) -> Response:
    return _add_certificate_page(request, web)


@router.post("/profile/certificates/add")
def add_certificate(
    request: Request,
    web: LoggedIn,
    challenge: str = Form(default="", max_length=128),
    signature: str = Form(default="", max_length=MAX_SIGNATURE),
    certificate: str = Form(default="", max_length=MAX_CERTIFICATE),
) -> Response:
    """The agent's answer: its signature over the enrolment challenge and the token's
    certificate (DER, base64url), which the library checks (chain, validity, revocation,
    the signature by its key) before it replaces any enrolled certificate."""
    hit_limits(request, "second_factor", web.session.principal.key)
    raw_signature = b64url(signature) if challenge and signature else None
    raw_certificate = b64url(certificate) if certificate else None
    if raw_signature is None or raw_certificate is None:  # no script, or garbage
        return _add_certificate_page(request, web, status=400, failed=True)
    box = server_of(request).box
    try:
        result = box.enrol_certificate(web.session_id, challenge, raw_certificate, raw_signature)
    except StepUpNeeded:
        return _add_certificate_page(request, web, status=403)
    except SecureboxError:  # a spent or foreign challenge; chain, validity or revocation
        return _add_certificate_page(request, web, status=400, failed=True)
    if not result.ok:
        return _add_certificate_page(request, web, status=400, failed=True)
    return see_other("/profile/certificates?enrolled=1")


@router.post("/profile/certificates/remove")
def remove_certificate(request: Request, web: LoggedIn) -> Response:
    try:
        principal = sensitive(request, web, ("certificate", "smartcard_pin"))
    except Refused as refused:
        return refused_page(request, refused)
    factors.remove_certificate(server_of(request).box, principal)
    return see_other("/profile/certificates?removed=1")


# -- recovery codes --------------------------------------------------------------------------


@router.get("/profile/recovery-codes")
def recovery_page(request: Request, web: LoggedIn) -> Response:
    return render(request, "profile/recovery.html", codes=None)


@router.post("/profile/recovery-codes")
def new_recovery_codes(request: Request, web: LoggedIn) -> Response:
    box = server_of(request).box
    try:
        sensitive(request, web, ("recovery_code",))
        revealed = box.generate_recovery_codes(web.session_id)
    except Refused as refused:
        return refused_page(request, refused)
    return _secret_page(request, "profile/recovery.html", codes=list(revealed.reveal()))
