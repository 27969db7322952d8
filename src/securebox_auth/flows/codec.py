"""The stored form of flows: JSON documents (a store keeps them as factor-state records).

A flow is stored under its principal (the store's key), so the principal is not repeated in
the document: the decoder takes it from the key. Versioned by ``"v"``; a document this
version does not know is :class:`~securebox_auth.errors.MalformedInput`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from securebox_auth.errors import MalformedInput
from securebox_auth.flows.login import LoginFlow, LoginState
from securebox_auth.flows.step_up import StepUpFlow, StepUpState
from securebox_auth.identity import Principal
from securebox_auth.policy.decision import Challenge
from securebox_auth.policy.linking import Batch, Money, OperationRequest, Payment
from securebox_auth.policy.model import Linking

__all__ = [
    "LOGIN_FLOW",
    "STEP_UP_FLOW",
    "login_flow_from_dict",
    "login_flow_to_dict",
    "step_up_flow_from_dict",
    "step_up_flow_to_dict",
]

#: Factor-state kinds of stored flows (item: the flow id).
LOGIN_FLOW: Final = "login_flow"
STEP_UP_FLOW: Final = "step_up_flow"
_VERSION: Final = 1

Doc = Mapping[str, Any]


def _time(text: object) -> datetime:
    if not isinstance(text, str):
        raise MalformedInput("a stored time is ISO 8601 text")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedInput("a stored time is ISO 8601 text") from None
    if moment.tzinfo is None:
        raise MalformedInput("a stored time has a time zone")
    return moment


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedInput("a stored list of names is a list of text")
    return tuple(value)


def _check(d: Doc) -> None:
    if not isinstance(d, Mapping) or d.get("v") != _VERSION:
        raise MalformedInput("not a stored flow of this version")


def login_flow_to_dict(flow: LoginFlow) -> dict[str, object]:
    return {
        "v": _VERSION,
        "id": flow.id,
        "channel": flow.channel,
        "created_at": flow.created_at.isoformat(),
        "expires_at": flow.expires_at.isoformat(),
        "state": flow.state.value,
        "offered": list(flow.offered),
        "proven": list(flow.proven),
        "failures": flow.failures,
        "notes": list(flow.notes),
        "code_set_at": None if flow.code_set_at is None else flow.code_set_at.isoformat(),
    }


def login_flow_from_dict(d: Doc, principal: Principal) -> LoginFlow:
    _check(d)
    try:
        failures = d["failures"]
        if type(failures) is not int or failures < 0:
            raise MalformedInput("a failure count is a whole number")
        return LoginFlow(
            id=str(d["id"]),
            principal=principal,
            channel=str(d["channel"]),
            created_at=_time(d["created_at"]),
            expires_at=_time(d["expires_at"]),
            state=LoginState(d["state"]),
            offered=_names(d["offered"]),
            proven=_names(d["proven"]),
            failures=failures,
            notes=_names(d["notes"]),
            code_set_at=None if d.get("code_set_at") is None else _time(d["code_set_at"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, MalformedInput):
            raise
        raise MalformedInput("a stored login flow is incomplete") from None


def _payment(p: Payment) -> dict[str, object]:
    return {"minor": p.amount.minor, "currency": p.amount.currency, "payee": p.payee}


def _payment_from(d: object) -> Payment:
    if not isinstance(d, Mapping):
        raise MalformedInput("a stored payment is an object")
    return Payment(Money(d["minor"], str(d["currency"])), str(d["payee"]))


def request_to_dict(request: OperationRequest) -> dict[str, object]:
    return {
        "operation": request.operation,
        "payment": None if request.payment is None else _payment(request.payment),
        "payee": request.payee,
        "batch": None if request.batch is None else [_payment(p) for p in request.batch.payments],
    }


def request_from_dict(d: Doc) -> OperationRequest:
    batch = d.get("batch")
    payee = d.get("payee")
    return OperationRequest(
        str(d["operation"]),
        payment=None if d.get("payment") is None else _payment_from(d["payment"]),
        payee=None if payee is None else str(payee),
        batch=None if batch is None else Batch(tuple(_payment_from(p) for p in batch)),
    )


def _challenge(c: Challenge) -> dict[str, object]:
    return {
        "operation": c.operation,
        "acr_values": list(c.acr_values),
        "max_age": c.max_age,
        "methods": list(c.methods),
        "issued_at": c.issued_at.isoformat(),
        "linking": c.linking.value,
        "digest": c.digest,
    }


def _challenge_from(d: Doc, principal: Principal, request: OperationRequest) -> Challenge:
    max_age = d["max_age"]
    if max_age is not None and type(max_age) is not int:
        raise MalformedInput("a stored max_age is a whole number")
    linking = Linking(d["linking"])
    challenge = Challenge(
        principal=principal,
        operation=None if d["operation"] is None else str(d["operation"]),
        acr_values=_names(d["acr_values"]),
        max_age=max_age,
        methods=_names(d["methods"]),
        issued_at=_time(d["issued_at"]),
        linking=linking,
        digest=None if d["digest"] is None else str(d["digest"]),
        request=request,
    )
    if challenge.digest != request.digest_for(linking):
        raise MalformedInput("a stored challenge is not bound to its operation")
    return challenge


def step_up_flow_to_dict(flow: StepUpFlow) -> dict[str, object]:
    return {
        "v": _VERSION,
        "id": flow.id,
        "session": flow.session_ref,
        "request": request_to_dict(flow.request),
        "created_at": flow.created_at.isoformat(),
        "expires_at": flow.expires_at.isoformat(),
        "state": flow.state.value,
        "challenge": None if flow.challenge is None else _challenge(flow.challenge),
        "proven": list(flow.proven),
        "notes": list(flow.notes),
    }


def step_up_flow_from_dict(d: Doc, principal: Principal) -> StepUpFlow:
    _check(d)
    try:
        request = request_from_dict(d["request"])
        challenge = d["challenge"]
        return StepUpFlow(
            id=str(d["id"]),
            principal=principal,
            session_ref=str(d["session"]),
            request=request,
            created_at=_time(d["created_at"]),
            expires_at=_time(d["expires_at"]),
            state=StepUpState(d["state"]),
            challenge=None if challenge is None else _challenge_from(challenge, principal, request),
            proven=_names(d["proven"]),
            notes=_names(d["notes"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, MalformedInput):
            raise
        raise MalformedInput("a stored step-up flow is incomplete") from None
