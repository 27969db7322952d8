"""The portal's pages. Each step of the login and of a step-up is one securebox call; the
views keep the flow's handle in the Django session and show what securebox answers."""

from __future__ import annotations

from collections.abc import Mapping

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from securebox_auth import (
    Answer,
    Channel,
    CodeAnswer,
    CompanyRef,
    FlowError,
    FlowOutOfOrder,
    LoginPage,
    LoginState,
    NotAuthenticated,
    OobAnswer,
    Operation,
    Principal,
    SecureboxError,
    Siren,
    StepUpState,
    TotpAnswer,
    WeakCode,
)

from .auth import connected, customer_required, redirect_to_login, renew, sign_in, sign_out
from .decorators import (
    TOKEN_FIELD,
    Protected,
    keep_pending,
    pending,
    refused,
    step_up,
    step_up_required,
)
from .documents import may, visible_documents
from .forms import ChangeCodeForm, CodeForm, IdentifyForm, PayeeForm
from .models import Document, Payee, User
from .securebox import portal_box

#: Where the Django session keeps the login flow's handle (and the page to go back to).
LOGIN_KEY = "securebox_login"
NEXT_KEY = "securebox_next"
#: The methods this portal has a form for (the policy says which ones are asked).
ANSWERS = {"confidential_code": CodeAnswer, "totp": TotpAnswer}


# -- login ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = IdentifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            page = portal_box().start_login(
                form.cleaned_data["client_id"], form.cleaned_data["user_number"]
            )
        except SecureboxError:
            form.add_error(None, "Check the client identifier and the user number.")
        else:
            request.session[LOGIN_KEY] = page.handle
            wanted = request.GET.get("next", "")
            if url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}):
                request.session[NEXT_KEY] = wanted
            return redirect("bank:login_factor")
    return render(request, "bank/login.html", {"form": form}, status=_status(form))


@require_http_methods(["GET", "POST"])
def login_factor(request: HttpRequest) -> HttpResponse:
    handle = request.session.get(LOGIN_KEY)
    if not isinstance(handle, str):
        return redirect("bank:login")
    box = portal_box()
    error = ""
    try:
        flow = box.login_flow(handle)
        if request.method == "POST":
            page = _answer(request, handle, flow.state)
            if page is None:
                error = "Check what you typed."
            elif page.session_id is not None:
                del request.session[LOGIN_KEY]
                if not sign_in(request, page.session_id):
                    return _restart(request, "This portal has no account for you.")
                return redirect(request.session.pop(NEXT_KEY, "") or "bank:documents")
            else:
                if page.rejected:
                    error = "Refused: check what you typed."
                flow = page.flow
    except FlowError:
        return _restart(request, "Your login took too long or was interrupted: start again.")
    if flow.state is LoginState.FAILED:
        return _restart(request, "Refused. Try again later.")
    context = {
        "state": flow.state.value,
        "offered": [m for m in flow.offered if m in ANSWERS],
        "change": ChangeCodeForm() if flow.state is LoginState.CODE_CHANGE else None,
        "code": CodeForm(),
        "error": error,
    }
    return render(request, "bank/login_factor.html", context, status=400 if error else 200)


def _answer(request: HttpRequest, handle: str, state: LoginState) -> LoginPage | None:
    """One answer to the login flow; ``None`` when the form itself is not filled in."""
    box = portal_box()
    if state is LoginState.CODE_CHANGE:
        change = ChangeCodeForm(request.POST)
        if not change.is_valid():
            return None
        try:
            return box.change_login_code(
                handle, change.cleaned_data["current"], change.cleaned_data["new"]
            )
        except WeakCode:
            return None
    method = request.POST.get("method", "")
    code = CodeForm(request.POST)
    if method not in ANSWERS or not code.is_valid():
        return None
    try:
        return box.answer_login(handle, ANSWERS[method](code.cleaned_data["code"]))
    except FlowError:
        raise
    except SecureboxError:
        return None


def _restart(request: HttpRequest, why: str) -> HttpResponse:
    request.session.pop(LOGIN_KEY, None)
    context = {"form": IdentifyForm(), "notice": why}
    return render(request, "bank/login.html", context, status=403)


def _status(form: IdentifyForm) -> int:
    return 400 if form.is_bound and form.errors else 200


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    sign_out(request)
    return redirect("bank:login")


# -- documents: securebox's entitlements as a queryset ---------------------------------------


@customer_required
def documents(request: HttpRequest) -> HttpResponse:
    principal = _principal(request)
    shown = visible_documents(principal)
    theme = request.GET.get("theme", "")
    if theme:
        shown = shown.filter(theme=theme)
    return render(request, "bank/documents.html", {"documents": shown[:50], "theme": theme})


@customer_required
def document(request: HttpRequest, client_id: str, document_id: str) -> HttpResponse:
    found = get_object_or_404(Document, client_id=client_id, document_id=document_id)
    try:
        allowed = may(_principal(request), Operation.VIEW, found).allowed
    except SecureboxError:  # a row securebox cannot read (bad theme...): shown to nobody
        allowed = False
    if not allowed:
        raise Http404  # the same answer as a document that does not exist
    return render(request, "bank/document.html", {"document": found})


def _principal(request: HttpRequest) -> Principal:
    link = connected(request)
    assert link is not None  # customer_required
    return link.principal


# -- payees: a step-up linked to the payee ---------------------------------------------------


def describe_payee(data: Mapping[str, str], principal: Principal) -> Protected | None:
    """A payee form as securebox sees it: linked to the payee, for a company on which the
    user must hold ``manage_payees``."""
    form = PayeeForm(data)
    if not form.is_valid():
        return None
    company = CompanyRef(principal.client_id, Siren(form.cleaned_data["company"]))
    return Protected(payee=form.cleaned_data["iban"], needs=(Operation.MANAGE_PAYEES, company))


@step_up_required("payees", describe=describe_payee)
def payees(request: HttpRequest) -> HttpResponse:
    principal = _principal(request)
    proved = step_up(request)
    form = PayeeForm(request.POST if request.method == "POST" and proved is None else None)
    if proved is not None:
        payee = proved.request.payee  # what securebox proved, not a field posted again
        assert payee is not None
        user = User.objects.get(username=principal.key)
        Payee.objects.create(
            client_id=principal.client_id.value,
            company=proved.data["company"],
            iban=payee.removeprefix("IBAN:"),
            label=proved.data["label"],
            added_by=user,
        )
        return redirect("bank:payees")
    listed = Payee.objects.filter(client_id=principal.client_id.value).order_by("label")
    return render(
        request,
        "bank/payees.html",
        {"payees": listed, "form": form},
        status=400 if form.is_bound else 200,
    )


@customer_required
@require_http_methods(["GET", "POST"])
def step_up_page(request: HttpRequest, token: str) -> HttpResponse:
    entry = pending(request).get(token)
    link = connected(request)
    if entry is None or link is None:
        return refused(request, "No such confirmation in this session.", status=404)
    try:
        error = _prove(request, token, entry) if request.method == "POST" else ""
        if request.method == "POST" and not error:
            return redirect("bank:step_up", token=token)
        return _show(request, token, entry, error)
    except NotAuthenticated:
        sign_out(request)
        return redirect_to_login(request)
    except FlowError as exc:
        keep_pending(request, token, None)
        return refused(request, f"This confirmation is over ({exc.code}): start again.")


def _prove(request: HttpRequest, token: str, entry: dict[str, object]) -> str:
    """One action on the step-up page; an error to show, or ``""``."""
    link = connected(request)
    assert link is not None
    box = portal_box()
    handle = str(entry["handle"])
    if request.POST.get("action") == "send":
        mobile = User.objects.get(username=link.principal.key).mobile
        try:
            entry["sms"] = box.send_step_up_code(
                link.session_id, handle, channel=Channel.SMS, destination=mobile
            )
        except FlowError:
            raise
        except SecureboxError as exc:
            return f"No SMS sent now ({exc.code})."
        keep_pending(request, token, dict(entry))
        return ""
    code = CodeForm(request.POST)
    method = request.POST.get("method", "")
    answer: Answer
    if not code.is_valid():
        return "Type the code."
    if method == "sms_otp" and isinstance(entry.get("sms"), str):
        answer = OobAnswer(str(entry["sms"]), code.cleaned_data["code"])
    elif method in ANSWERS:
        answer = ANSWERS[method](code.cleaned_data["code"])
    else:
        return "Choose a method offered."
    try:
        page = box.prove_step_up(link.session_id, handle, answer)
    except FlowOutOfOrder as exc:  # a method this operation does not accept: the flow goes on
        return f"Not accepted for this operation ({exc.code})."
    except FlowError:
        raise
    except SecureboxError as exc:
        return f"Refused ({exc.code})."
    if page.session_id != link.session_id:  # the level changed: a new identifier
        renew(request, page.session_id)
    if page.state is StepUpState.FAILED:
        return "Refused: too many wrong codes."
    return "Refused: check the code." if page.rejected else ""


def _show(request: HttpRequest, token: str, entry: dict[str, object], error: str) -> HttpResponse:
    link = connected(request)
    assert link is not None
    flow = portal_box().step_up_flow(link.session_id, str(entry["handle"]))
    challenge = flow.challenge
    offered = [] if challenge is None else [m for m in challenge.methods if m not in flow.proven]
    context = {
        "token": token,
        "token_field": TOKEN_FIELD,
        "path": entry["path"],
        "display": [] if challenge is None else list(challenge.display),
        "offered": offered,
        "proven": flow.proven,
        "sms_sent": isinstance(entry.get("sms"), str),
        "ready": flow.state is StepUpState.READY,
        "failed": flow.state is StepUpState.FAILED,
        "error": error,
        "code": CodeForm(),
    }
    return render(request, "bank/step_up.html", context, status=400 if error else 200)
