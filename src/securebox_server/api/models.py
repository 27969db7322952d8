"""The JSON shapes of ``/api/v1`` (pydantic models: FastAPI validates the bodies with them
and publishes them in the OpenAPI 3.1 document). A body that does not match is answered
400 ``malformed_input`` (never 422, never 500)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Action",
    "AnswerBody",
    "AssertionBody",
    "AssertionOut",
    "ChallengeBody",
    "ChallengeOut",
    "ChequeBookBody",
    "FlowOut",
    "Jwks",
    "LoginStart",
    "OrderOut",
    "PayeeBody",
    "PayeeOut",
    "Problem",
    "SessionOut",
    "StepUpOut",
    "StepUpStart",
]

_SHORT = 64
_CODE = Field(default=None, min_length=1, max_length=_SHORT)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Problem(BaseModel):
    """RFC 9457 problem details with the stable ``code`` of the error."""

    type: str
    title: str
    status: int
    code: str
    instance: str | None = None
    #: RFC 9470: the step-up resource that answers the challenge.
    step_up: str | None = None
    acr_values: list[str] | None = None
    max_age: int | None = None


class LoginStart(_Strict):
    client_id: str = Field(min_length=1, max_length=_SHORT)
    user_number: str = Field(min_length=1, max_length=_SHORT)
    #: ``token``: the session token comes back in the body (API clients, ``Authorization:
    #: Bearer``); ``cookie``: it is set as the session cookie (a browser on this origin).
    session_delivery: Literal["token", "cookie"] = "token"


class AnswerBody(_Strict):
    """One answer: ``method`` is a library method name, or ``code_change``."""

    method: str = Field(min_length=1, max_length=_SHORT)
    code: str | None = _CODE
    challenge_id: str | None = Field(default=None, min_length=1, max_length=256)
    card_id: str | None = _CODE
    mode: Literal["identify", "respond", "sign", "tds"] | None = None
    ceremony_id: str | None = Field(default=None, min_length=1, max_length=256)
    response: dict[str, Any] | None = None
    #: base64url (no padding) of the signature over the challenge's ``to_sign``.
    signature: str | None = Field(default=None, min_length=1, max_length=4096)
    current: str | None = _CODE
    new: str | None = _CODE


class ChallengeBody(_Strict):
    """Ask for what a method answers over: an SMS/e-mail code, a CAP challenge, passkey
    options, a certificate challenge."""

    method: str = Field(min_length=1, max_length=_SHORT)
    destination: str | None = Field(default=None, min_length=1, max_length=256)
    card_id: str | None = _CODE
    mode: Literal["respond", "sign", "tds"] | None = None


class ChallengeOut(BaseModel):
    method: str
    challenge_id: str
    #: CAP: what the user types into the reader, in order.
    display: list[str] | None = None
    #: Passkey: the ``navigator.credentials.get`` options.
    options: dict[str, Any] | None = None
    #: Certificate: base64url of the bytes to sign, and the challenge's expiry.
    to_sign: str | None = None
    expires_at: str | None = None


class Action(BaseModel):
    """What the client may do next (Kratos' UI nodes, as links with their fields)."""

    method: str
    href: str
    fields: list[str]
    challenge: str | None = None


class SessionOut(BaseModel):
    """``token`` is opaque (send it as ``Authorization: Bearer``); absent when the session
    went into the cookie."""

    token_type: Literal["Bearer", "cookie"]
    token: str | None = None
    acr: str


class FlowOut(BaseModel):
    id: str
    state: str
    expires_at: str
    offered: list[str]
    rejected: bool = False
    actions: list[Action]
    session: SessionOut | None = None


class StepUpStart(_Strict):
    operation: str = Field(min_length=1, max_length=_SHORT)
    #: ``payee`` (IBAN or name), ``amount`` + ``currency`` (+ ``payee``) for a payment,
    #: ``payments`` (a list of amount/currency/payee) for a batch.
    details: dict[str, Any] = Field(default_factory=dict)


class StepUpOut(BaseModel):
    id: str
    operation: str
    state: str
    expires_at: str
    #: What is being approved, shown before the proof (amount and payee, batch...).
    display: list[list[str]]
    digest: str | None = None
    methods: list[str]
    rejected: bool = False
    actions: list[Action]
    #: After the grant: the session token to use from now on (the session was rotated).
    session: SessionOut | None = None


class PayeeBody(_Strict):
    payee: str = Field(min_length=1, max_length=80)


class PayeeOut(BaseModel):
    payee: str
    status: Literal["recorded"]


class ChequeBookBody(_Strict):
    books: int = Field(ge=1, le=3)


class OrderOut(BaseModel):
    books: int
    status: Literal["recorded"]


class AssertionBody(_Strict):
    audience: str = Field(min_length=1, max_length=200)


class Jwks(BaseModel):
    """RFC 7517 JWK set: the public keys of the assertions."""

    keys: list[dict[str, Any]]


class AssertionOut(BaseModel):
    assertion: str
    token_type: Literal["sbx-assertion+jwt"]
    jwks_uri: str
