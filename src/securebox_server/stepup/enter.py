"""Entering a sensitive operation: the forms of the payees, cheque books, SEPA instant
transfers and payment batches, and the lists (my payees, my orders)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

from securebox_auth.errors import MalformedInput
from securebox_server.stepup.common import book_of, start
from securebox_server.stepup.requests import (
    MAX_BATCH,
    Draft,
    batch_draft,
    cheque_book_draft,
    payee_draft,
    transfer_draft,
)
from securebox_server.web.pages import render
from securebox_server.web.routing import LoggedIn, SecureRoute

__all__ = ["router"]

router = APIRouter(route_class=SecureRoute)
MAX_UPLOAD = 64 * 1024


def _form(request: Request, template: str, error: str | None = None, **values: str) -> Response:
    status = 200 if error is None else 400
    return render(request, template, status=status, error=error, values=values)


def _entered(
    request: Request,
    web: LoggedIn,
    draft: Callable[[], Draft],
    template: str,
    error: str,
    **values: str,
) -> Response:
    """Start the step-up of ``draft()``, or show the form again (400) with ``values`` when
    the input is malformed."""
    try:
        made = draft()
    except MalformedInput:
        return _form(request, template, error, **values)
    return start(request, web, made)


@router.get("/payees")
def payees(request: Request, web: LoggedIn) -> Response:
    listed = book_of(request).payees(web.session.principal)
    return render(request, "stepup/payees.html", payees=listed)


@router.get("/orders")
def orders(request: Request, web: LoggedIn) -> Response:
    listed = book_of(request).orders(web.session.principal)
    return render(request, "stepup/orders.html", orders=listed)


@router.get("/payees/new")
def payee_form(request: Request, web: LoggedIn) -> Response:
    return _form(request, "stepup/payee_form.html")


@router.post("/payees/new")
def payee_submit(
    request: Request,
    web: LoggedIn,
    name: str = Form(default="", max_length=200),
    iban: str = Form(default="", max_length=100),
) -> Response:
    return _entered(
        request,
        web,
        lambda: payee_draft(name, iban),
        "stepup/payee_form.html",
        "payee",
        name=name,
        iban=iban,
    )


@router.get("/cheque-books/new")
def cheque_form(request: Request, web: LoggedIn) -> Response:
    return _form(request, "stepup/cheque_form.html")


@router.post("/cheque-books/new")
def cheque_submit(
    request: Request,
    web: LoggedIn,
    account: str = Form(default="", max_length=40),
    books: str = Form(default="1", max_length=4),
    delivery: str = Form(default="branch", max_length=10),
) -> Response:
    return _entered(
        request,
        web,
        lambda: cheque_book_draft(account, books, delivery),
        "stepup/cheque_form.html",
        "cheque",
        account=account,
    )


@router.get("/transfers/new")
def transfer_form(request: Request, web: LoggedIn) -> Response:
    return _form(request, "stepup/transfer_form.html")


@router.post("/transfers/new")
def transfer_submit(
    request: Request,
    web: LoggedIn,
    amount: str = Form(default="", max_length=40),
    name: str = Form(default="", max_length=200),
    iban: str = Form(default="", max_length=100),
    reference: str = Form(default="", max_length=100),
) -> Response:
    values = {"amount": amount, "name": name, "iban": iban, "reference": reference}
    return _entered(
        request,
        web,
        lambda: transfer_draft(amount, name, iban, reference),
        "stepup/transfer_form.html",
        "transfer",
        **values,
    )


@router.get("/batches/new")
def batch_form(request: Request, web: LoggedIn) -> Response:
    return _form(request, "stepup/batch_form.html")


@router.post("/batches/new")
def batch_submit(
    request: Request,
    web: LoggedIn,
    lines: str = Form(default="", max_length=MAX_BATCH * 200),
    upload: Annotated[UploadFile | None, File()] = None,
) -> Response:
    text = lines
    if upload is not None and upload.filename:
        data = upload.file.read(MAX_UPLOAD + 1)
        try:
            text = data.decode("utf-8-sig") if len(data) <= MAX_UPLOAD else ""
        except UnicodeDecodeError:
            text = ""
    return _entered(
        request, web, lambda: batch_draft(text), "stepup/batch_form.html", "batch", lines=lines
    )
