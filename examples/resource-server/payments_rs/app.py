"""The payments API: a service of its own, behind the portal, that decides from the
reference server's signed assertions alone.

* ``POST /transfers`` enters a SEPA instant transfer. The assertion must be genuine (the
  issuer's JWKS), for this audience, name the ordering user, carry ``acr`` strong, and
  satisfy the policy engine for **this** transfer: a grant of ``sepa_instant_transfer``
  whose digest binds exactly this amount and payee (dynamic linking, PSD2 RTS art. 5),
  proven with one of the rule's methods within its ``max_age``. The approval is single
  use: the assertion's ``jti`` and the grant are spent together, atomically, in this
  service's database (:mod:`payments_rs.consume`).
* ``GET /statements`` reads statements: ``acr`` strong, ``amr`` with ``mfa``, and a login
  (``auth_time``) at most ``statements_max_age`` old.

A refusal is a 401 with ``WWW-Authenticate``: ``error="invalid_token"`` (RFC 6750) for an
assertion that is not acceptable at all, ``error="insufficient_user_authentication"`` with
``acr_values`` and ``max_age`` (RFC 9470) when a step-up on the portal would help; a 403
when the policy denies the operation; problems are RFC 9457 documents; no answer is a 5xx
but a 503 when the issuer's keys cannot be fetched.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from securebox_auth.clock import Clock, SystemClock
from securebox_auth.errors import ConfigurationError, MalformedInput
from securebox_auth.identity import Principal
from securebox_auth.policy.linking import Money, OperationRequest, Payment
from securebox_auth.policy.model import PSD2_DEFAULT, Policy
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.shell.token_verifier import AssertionVerifier
from securebox_auth.stores.sql.store import SqlStore
from securebox_auth.tokens.assertions import TokenKeys
from securebox_auth.tokens.claims import TokenError
from securebox_auth.tokens.requirement import (
    AssertionRequirement,
    InsufficientAuthentication,
    VerifiedAssertion,
)
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from payments_rs.consume import consume_grant
from payments_rs.jwks import JwksCache, JwksUnavailable
from payments_rs.settings import Settings, read_audit_key

__all__ = ["TRANSFER", "app_from_environment", "create_app"]

log = logging.getLogger("payments_rs")

#: The policy operation a transfer is (its rule: methods, max_age, single use, linking).
TRANSFER: Final = "sepa_instant_transfer"

#: A fixed sentence per refusal (never the exception's text, which may quote the token).
_TITLES: Final = {
    "invalid_token": "The assertion is not valid",
    "token_expired": "The assertion has expired",
    "invalid_audience": "The assertion is for another service",
    "invalid_subject": "The assertion belongs to another user",
    "token_replayed": "The assertion was already used",
    "token_revoked": "The user's sessions were ended since this assertion: log in again",
    "operation_denied": "The policy denies this operation",
    "insufficient_user_authentication": "A stronger or more recent authentication is needed",
    "not_authenticated": "An assertion is needed (Authorization: Bearer)",
    "malformed_input": "The request is malformed",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "issuer_unavailable": "The issuer's keys cannot be fetched; try again",
}


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(max_length=9, description="the ordering user's client identifier")
    user_number: str = Field(max_length=2, description="the ordering user's number")
    amount: str = Field(max_length=20, description="a decimal amount, such as 150.00")
    currency: str = Field(max_length=3, description="ISO 4217, such as EUR")
    payee: str = Field(max_length=80, description="the payee's IBAN")


@dataclass(frozen=True, slots=True)
class _Service:
    settings: Settings
    policy: Policy
    store: SqlStore
    jwks: JwksCache
    clock: Clock

    def verifier(self, keys: TokenKeys) -> AssertionVerifier:
        s = self.settings
        return AssertionVerifier(
            keys=keys, issuer=s.issuer, audience=s.audience, store=self.store, clock=self.clock
        )


def _problem(
    request: Request, status: int, code: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    body = {
        "type": f"/problems/{code}",
        "title": _TITLES[code],
        "status": status,
        "code": code,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(
        body, status, headers=dict(headers or {}), media_type="application/problem+json"
    )


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not 0 < len(token) <= 8192 or " " in token.strip():
        raise _NoAssertion
    return token.strip()


class _NoAssertion(Exception):
    """No ``Authorization: Bearer`` assertion (RFC 6750 3.1: a challenge without error)."""


def _principal(client_id: str, user_number: str) -> Principal:
    return Principal.parse(client_id, user_number)  # MalformedInput: 400


def _install_handlers(app: FastAPI, realm: str) -> None:
    """The refusals: a problem document each, with its ``WWW-Authenticate``."""

    @app.exception_handler(_NoAssertion)
    def no_assertion(request: Request, exc: _NoAssertion) -> Response:
        return _problem(request, 401, "not_authenticated", {"WWW-Authenticate": realm})

    @app.exception_handler(InsufficientAuthentication)
    def step_up(request: Request, exc: InsufficientAuthentication) -> Response:
        log.info("refused: insufficient_user_authentication (%s)", exc.reason)
        requirement = exc.requirement
        decision = exc.decision
        challenge = exc.www_authenticate()
        extra: dict[str, Any] = {"reason": exc.reason}
        if decision is not None:
            extra["acr_values"] = list(decision.challenge.acr_values)
            extra["max_age"] = decision.challenge.max_age
        elif requirement.acr_values:
            extra["acr_values"] = sorted(requirement.acr_values)
        headers = {"WWW-Authenticate": challenge}
        return _problem(request, 401, "insufficient_user_authentication", headers, **extra)

    @app.exception_handler(TokenError)
    def invalid(request: Request, exc: TokenError) -> Response:
        log.info("refused: %s", type(exc).__name__)  # never the token, nor the message
        code = exc.code if exc.code in _TITLES else "invalid_token"
        if exc.status_hint == 403:
            header = f'{realm}, error="insufficient_scope"'
            return _problem(request, 403, code, {"WWW-Authenticate": header})
        header = f'{realm}, error="invalid_token", error_description="{_TITLES[code]}"'
        return _problem(request, 401, code, {"WWW-Authenticate": header})

    @app.exception_handler(JwksUnavailable)
    def unavailable(request: Request, exc: JwksUnavailable) -> Response:
        log.warning("the issuer's keys: %s", exc)
        return _problem(request, 503, "issuer_unavailable", {"Retry-After": "5"})

    @app.exception_handler(MalformedInput)
    def malformed(request: Request, exc: MalformedInput) -> Response:
        return _problem(request, 400, "malformed_input", detail=str(exc))

    @app.exception_handler(RequestValidationError)
    def validation(request: Request, exc: RequestValidationError) -> Response:
        fields = [".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()]
        return _problem(request, 400, "malformed_input", fields=fields)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        if code is None:
            return _problem(request, 400, "malformed_input")
        return _problem(request, exc.status_code, code, exc.headers)


def create_app(
    settings: Settings, *, clock: Clock | None = None, policy: Policy = PSD2_DEFAULT
) -> FastAPI:
    """The API on ``settings`` (the database must be migrated: ``python3 -m payments_rs
    migrate``); ``clock`` for tests."""
    clock = clock or SystemClock()
    store = open_sql_store(settings.database_url, audit_key=read_audit_key(settings.audit_key_file))
    jwks = JwksCache(
        settings.jwks_url, clock, ttl=settings.jwks_ttl, cooldown=settings.jwks_refetch_cooldown
    )
    service = _Service(settings, policy, store, jwks, clock)
    strong = frozenset({policy.acr.strong, policy.acr.phishing_resistant})
    rule = policy.operation(TRANSFER)
    if rule is None or not rule.single_use:
        raise ConfigurationError(f"the policy has no single-use rule for {TRANSFER}")
    linking = rule.linking
    realm = f'Bearer realm="{settings.audience}"'
    app = FastAPI(title="payments (securebox resource server example)", version="1")
    app.state.service = service

    def verify(
        authorization: str | None, subject: Principal, requirement: AssertionRequirement
    ) -> VerifiedAssertion:
        """Signature, claims, subject and requirement; consumes nothing (see
        :mod:`payments_rs.consume`)."""
        token = _bearer(authorization)
        return service.verifier(jwks.keys_for(token)).verify(
            token, subject=subject, requirement=requirement, consume=False
        )

    _install_handlers(app, realm)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/transfers", status_code=201)
    def transfer(
        body: TransferIn, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        """Enter a SEPA instant transfer, approved by the assertion's grant for exactly this
        amount and payee (consumed: an assertion approves one transfer)."""
        subject = _principal(body.client_id, body.user_number)
        payment = Payment(Money.parse(body.amount, body.currency), body.payee)
        request = OperationRequest(TRANSFER, payment=payment)
        requirement = AssertionRequirement(acr_values=strong, policy=policy, request=request)
        verified = verify(authorization, subject, requirement)
        digest = request.digest_for(linking)
        consume_grant(
            store, clock, verified, operation=TRANSFER, digest=digest, audience=settings.audience
        )
        log.info("transfer accepted for %s", verified.subject.key)
        return {
            "status": "accepted",
            "ordered_by": verified.subject.key,
            "amount": body.amount,
            "currency": body.currency,
            "payee": body.payee,
            "acr": verified.acr,
            "amr": list(verified.amr),
        }

    @app.get("/statements")
    def statements(
        client_id: Annotated[str, Query(max_length=9)],
        user_number: Annotated[str, Query(max_length=2)],
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        """The user's statements: a strong login (``acr``, ``amr`` with ``mfa``) at most
        ``statements_max_age`` old."""
        requirement = AssertionRequirement(
            acr_values=strong, amr=frozenset({"mfa"}), max_age=settings.statements_max_age
        )
        verified = verify(authorization, _principal(client_id, user_number), requirement)
        return {
            "owner": verified.subject.key,
            "auth_time": verified.auth_time.isoformat(),
            "statements": [],  # the example stops at the authorization decision
        }

    return app


def app_from_environment() -> FastAPI:
    """``uvicorn payments_rs.app:app_from_environment --factory``: each worker reads the
    same ``PAYMENTS_*`` settings."""
    return create_app(Settings.from_environment())
