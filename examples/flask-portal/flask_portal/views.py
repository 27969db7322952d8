"""The portal's pages: login (confidential code, CAP reader), accounts, transfers, trusted
payees, logout.

Every authentication step is one call of securebox's login flow; the pages only show what
the flow offers next (``page.offered``) and carry the user's answers to it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from securebox_auth import (
    CapAnswer,
    CapMode,
    CodeAnswer,
    FlowError,
    InvalidCode,
    InvalidIdentifier,
    LoginFlow,
    LoginPage,
    LoginState,
    MalformedInput,
    Money,
    OperationRequest,
    Payment,
    WeakCode,
    normalise_payee,
)

from flask_portal.guards import View, login_required, reader_code, step_up_required
from flask_portal.models import Customer, Payee, Transfer, customer_of
from flask_portal.portal import card_for, current_portal, current_session

__all__ = ["bp", "payee_request", "transfer_request"]

bp = Blueprint("portal", __name__)


# -- login --------------------------------------------------------------------------------


@bp.get("/")
def home() -> ResponseReturnValue:
    if current_session().auth is None:
        return redirect(url_for("portal.login"))
    return redirect(url_for("portal.accounts"))


@bp.get("/login")
def login() -> ResponseReturnValue:
    return render_template("login.html")


@bp.post("/login")
def identify() -> ResponseReturnValue:
    """Client identifier and user number: the flow starts (for an unknown user too: the
    same pages follow)."""
    s = current_session()
    client_id = request.form.get("client_id", "")
    user_number = request.form.get("user_number", "")
    try:
        page = current_portal().box.start_login(client_id, user_number)
    except InvalidIdentifier:
        return render_template("login.html", invalid=True), 400
    if s.session_id is not None and s.auth is not None:
        current_portal().box.end(s.session_id)  # a new login in this browser ends its session
    s.forget()
    s.begin_login(page.handle)
    return redirect(url_for("portal.login_next"))


def _flow() -> tuple[str, LoginFlow] | None:
    """The pending login of this browser, or ``None`` (none, finished, expired)."""
    s = current_session()
    if s.login_handle is None:
        return None
    try:
        return s.login_handle, current_portal().box.login_flow(s.login_handle)
    except (FlowError, MalformedInput):
        s.end_login()
        return None


def _method_page(flow: LoginFlow, handle: str, status: int = 200) -> ResponseReturnValue:
    """What the flow asks for now: a code change, or the methods it offers."""
    if flow.state is LoginState.CODE_CHANGE:
        return render_template("change_code.html", rejected=status != 200), status
    challenge = None
    if "cap_respond" in flow.offered and request.args.get("cap") == "respond":
        card = card_for(current_portal(), flow.principal)
        challenge = current_portal().box.login_cap_challenge(handle, card)
    body = render_template(
        "login_method.html",
        flow=flow,
        second=flow.state is LoginState.SECOND_FACTOR,
        challenge=challenge,
        rejected=status != 200,
    )
    return body, status


def _in_login(view: Callable[[str, LoginFlow], ResponseReturnValue]) -> View:
    """The view runs with this browser's pending login (its handle and flow); without one,
    the login starts again."""

    @functools.wraps(view)
    def wrapper() -> ResponseReturnValue:
        pending = _flow()
        if pending is None:
            return redirect(url_for("portal.login"))
        return view(*pending)

    return wrapper


@bp.get("/login/next")
@_in_login
def login_next(handle: str, flow: LoginFlow) -> ResponseReturnValue:
    return _method_page(flow, handle)


def _after(page: LoginPage) -> ResponseReturnValue:
    """Where a login step leads: the accounts once a session is open, the next method, or
    the start again when the flow ended without one."""
    s = current_session()
    if page.session_id is not None:
        s.end_login()
        s.use(page.session_id)
        return redirect(url_for("portal.accounts"))
    if page.flow.finished:
        s.end_login()
        return render_template("login.html", refused=True), 403
    return _method_page(page.flow, page.handle, 401 if page.rejected else 200)


def _answer(handle: str, flow: LoginFlow, answer: CapAnswer | CodeAnswer) -> ResponseReturnValue:
    try:
        page = current_portal().box.answer_login(handle, answer)
    except InvalidCode:  # not even the shape of a code: nothing was verified
        return _method_page(flow, handle, 400)
    except FlowError:
        return redirect(url_for("portal.login_next"))
    return _after(page)


@bp.post("/login/code")
@_in_login
def login_code(handle: str, flow: LoginFlow) -> ResponseReturnValue:
    return _answer(handle, flow, CodeAnswer(request.form.get("code", "")))


@bp.post("/login/cap")
@_in_login
def login_cap(handle: str, flow: LoginFlow) -> ResponseReturnValue:
    """A CAP reader code: Identify, or Respond over the challenge the page showed."""
    code = reader_code(request.form.get("cap_code", ""))
    if code is None:
        return _method_page(flow, handle, 400)
    card = card_for(current_portal(), flow.principal)
    challenge = request.form.get("cap_challenge") or None
    mode = CapMode.IDENTIFY if challenge is None else CapMode.RESPOND
    return _answer(handle, flow, CapAnswer(card, code, challenge, mode))


@bp.post("/login/change")
@_in_login
def login_change(handle: str, flow: LoginFlow) -> ResponseReturnValue:
    """The forced change of the one-time code the bank sent."""
    current, new = request.form.get("current", ""), request.form.get("new", "")
    if new != request.form.get("confirm", ""):
        return render_template("change_code.html", mismatch=True), 400
    try:
        page = current_portal().box.change_login_code(handle, current, new)
    except WeakCode as weak:
        return render_template("change_code.html", weak=str(weak)), 400
    except InvalidCode:
        return _method_page(flow, handle, 400)
    except FlowError:
        return redirect(url_for("portal.login_next"))
    return _after(page)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    s = current_session()
    if s.session_id is not None and s.auth is not None:
        current_portal().box.end(s.session_id)
    s.forget()
    return redirect(url_for("portal.login"))


# -- the portal's own pages ---------------------------------------------------------------


@bp.get("/accounts")
@login_required
def accounts() -> ResponseReturnValue:
    auth = current_session().auth
    if auth is None:  # pragma: no cover - login_required
        return redirect(url_for("portal.login"))
    with current_portal().db() as db:
        customer = customer_of(db, auth.principal)
        name = customer.display_name if customer else auth.principal.key
        transfers = [
            (t.payee, Money(t.amount_minor, t.currency), t.ordered_at)
            for t in (customer.transfers if customer else [])
        ]
        payees = [p.payee for p in (customer.payees if customer else [])]
    return render_template(
        "accounts.html",
        name=name,
        auth=auth,
        transfers=transfers,
        payees=payees,
        strong=auth.strong,
    )


def _iban(raw: str) -> str:
    """The payee's IBAN in canonical form (``IBAN:...``), else ``MalformedInput``."""
    if len(raw) > 64:
        raise MalformedInput("an IBAN has at most 34 characters")
    payee = normalise_payee(raw)
    if not payee.startswith("IBAN:"):  # a SEPA transfer goes to an account
        raise MalformedInput("the payee is an IBAN")
    return payee


def _record(
    row: Callable[[Customer, datetime], Transfer | Payee], done: str
) -> ResponseReturnValue:
    """Write the row of an operation securebox proved and consumed, in the portal's table
    (nothing when securebox knows the user and the portal's table does not)."""
    auth = current_session().auth
    with current_portal().db() as db:
        customer = None if auth is None else customer_of(db, auth.principal)
        if customer is None:
            message = "Unknown customer."
            return render_template("error.html", code="no_customer", message=message), 403
        db.add(row(customer, current_portal().box.now()))
    return render_template("done.html", what=done)


@bp.get("/transfers/new")
@login_required
def new_transfer() -> ResponseReturnValue:
    return render_template("transfer.html")


def transfer_request(form: Mapping[str, str]) -> OperationRequest:
    """The transfer the form asks for (``MalformedInput`` for a bad amount or payee)."""
    amount = form.get("amount", "").strip()
    if not amount or len(amount) > 20:
        raise MalformedInput("an amount in euros is needed")
    payment = Payment(Money.parse(amount, "EUR"), _iban(form.get("payee", "")))
    return OperationRequest("sepa_instant_transfer", payment=payment)


@bp.post("/transfers")
@step_up_required("sepa_instant_transfer", transfer_request)
def order_transfer(proven: OperationRequest) -> ResponseReturnValue:
    """Runs once securebox consumed the grant of exactly this transfer."""
    payment = proven.payment
    if payment is None:  # pragma: no cover - transfer_request always makes one
        raise RuntimeError("a transfer without a payment")
    amount = payment.amount

    def row(customer: Customer, at: datetime) -> Transfer:
        return Transfer(customer=customer, amount_minor=amount.minor, currency=amount.currency,
                        payee=payment.payee, ordered_at=at)  # fmt: skip

    return _record(row, f"{amount} to {payment.payee}.")


@bp.get("/payees/new")
@login_required
def new_payee() -> ResponseReturnValue:
    return render_template("payee.html")


def payee_request(form: Mapping[str, str]) -> OperationRequest:
    """The trusted payee the form adds (``MalformedInput`` for anything but an IBAN)."""
    return OperationRequest("payee_management", payee=_iban(form.get("payee", "")))


@bp.post("/payees")
@step_up_required("payee_management", payee_request)
def add_payee(proven: OperationRequest) -> ResponseReturnValue:
    """Runs once securebox consumed the grant of exactly this payee."""
    payee = proven.payee
    if payee is None:  # pragma: no cover - payee_request always names one
        raise RuntimeError("a payee operation without a payee")

    def row(customer: Customer, at: datetime) -> Payee:
        return Payee(customer=customer, payee=payee, added_at=at)

    return _record(row, f"{payee} is a trusted payee.")
