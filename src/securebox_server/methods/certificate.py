"""A client certificate on a token or a smart card (ADR 0025), in two transports:

* **the local signing agent** (``securebox token agent``): the page shows the challenge of
  :meth:`Securebox.login_certificate_challenge` (its payload, base64url) in
  ``data-challenge`` with the agent's URL (settings ``agent_url``) in ``data-agent``;
  ``static/js/certificate.js`` has the agent sign it after the PIN, fills the hidden
  ``signature`` and ``certificate`` fields and submits. The challenge's audience is the
  portal's issuer, its public origin, which the agent checks against the page's origin.
* **mutual TLS through a trusted reverse proxy**: when
  :func:`~securebox_server.certificates.forwarded.forwarded_certificate` finds a client
  certificate forwarded by a peer in ``trusted_proxies`` (header ``certificate_header``),
  the page also offers to log in with it; the answer is the library's
  :class:`~securebox_auth.shell.answers.PresentedCertificateAnswer` (the enrolled
  certificate, chain and revocation checked as for a signature). From any other peer the
  header is ignored.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from securebox_auth.shell.answers import CertificateAnswer, PresentedCertificateAnswer
from securebox_server.certificates.forwarded import (
    Forwarded,
    ForwardedSettings,
    Source,
    forwarded_certificate,
    parse_networks,
)
from securebox_server.login.flow import current_flow, hit_limits, next_step
from securebox_server.methods import LoginMethod
from securebox_server.web.context import server_of
from securebox_server.web.pages import render
from securebox_server.web.routing import SecureRoute

__all__ = ["MAX_CERTIFICATE", "MAX_SIGNATURE", "METHOD", "b64url", "router"]

router = APIRouter(route_class=SecureRoute)
TEMPLATE = "methods/certificate.html"
#: An ECDSA or RSA-4096 signature, base64url, is under 1 kB; a certificate a few kB.
MAX_SIGNATURE = 2048
MAX_CERTIFICATE = 16384


def presented(request: Request) -> Forwarded:
    """The mutual-TLS client certificate, as a trusted proxy forwarded it."""
    settings = server_of(request).settings
    trust = ForwardedSettings(
        trusted_proxies=parse_networks(settings.trusted_proxies),
        header=settings.certificate_header,
    )
    peer = request.client.host if request.client is not None else None
    return forwarded_certificate(peer, request.headers.items(), trust)


def _page(request: Request, *, status: int = 200, rejected: bool = False) -> Response:
    handle, flow = current_flow(request)
    server = server_of(request)
    values = {"principal": flow.principal, "rejected": rejected, "agent": server.settings.agent_url}
    if server.box.certificates is None:  # no trust anchors configured: no certificates
        return render(request, TEMPLATE, status=status, unavailable=True, challenge="",
                      challenge_id="", tls=False, **values)  # fmt: skip
    challenge = server.box.login_certificate_challenge(handle)
    payload = base64.urlsafe_b64encode(challenge.payload()).rstrip(b"=").decode("ascii")
    tls = presented(request).source is Source.PROXY
    return render(request, TEMPLATE, status=status, unavailable=False, challenge=payload,
                  challenge_id=challenge.challenge_id, tls=tls, **values)  # fmt: skip


def b64url(text: str) -> bytes | None:
    """Strict base64url (what the agent sends); ``None`` for anything else or nothing."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw or None


@router.get("/login/certificate")
def certificate_page(request: Request) -> Response:
    return _page(request)


@router.post("/login/certificate")
def certificate_answer(
    request: Request,
    challenge: str = Form(default="", max_length=128),
    signature: str = Form(default="", max_length=MAX_SIGNATURE),
    certificate: str = Form(default="", max_length=MAX_CERTIFICATE),
) -> Response:
    """The agent's signature (``certificate`` is what the agent read from the token; only
    the enrolled certificate is trusted, so it is not used)."""
    del certificate
    handle, flow = current_flow(request)
    hit_limits(request, "login.certificate", flow.principal.key)
    raw = b64url(signature) if challenge and signature else None
    if raw is None:  # the script did not run, or sent garbage: nothing verified
        return _page(request, status=400, rejected=True)
    page = server_of(request).box.answer_login(handle, CertificateAnswer(challenge, raw))
    return next_step(request, page) or _page(request, status=401, rejected=True)


@router.post("/login/certificate/tls")
def certificate_tls_answer(request: Request) -> Response:
    """Log in with the certificate presented to the trusted proxy in the TLS handshake."""
    handle, flow = current_flow(request)
    hit_limits(request, "login.certificate", flow.principal.key)
    found = presented(request)
    if found.certificate is None:  # no proxy-verified certificate: nothing to check
        return _page(request, status=400, rejected=True)
    answer = PresentedCertificateAnswer(found.certificate)
    page = server_of(request).box.answer_login(handle, answer)
    return next_step(request, page) or _page(request, status=401, rejected=True)


METHOD = LoginMethod(
    names=("certificate", "smartcard_pin"),
    label="Certificate",
    path="/login/certificate",
    router=router,
)
