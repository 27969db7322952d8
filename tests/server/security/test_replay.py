"""Replay of one-time values through HTTP (issue 18, "Replay"): each is accepted once.

Two real ``securebox serve`` processes share one scratch PostgreSQL database
(:mod:`tests.server.security.replay_support`). For each value:

* sequentially: the same value posted twice (a second flow, on the other process) is refused;
* concurrently: the same value posted to both processes at the same instant (threads behind
  a barrier), ``SECUREBOX_REPLAY_ROUNDS`` rounds (default 2; the restart: 1): exactly one
  acceptance a round;
* after a restart: the value accepted, the process stopped by its group id and started again
  on the same database, the value replayed: refused.

The values covered: the TOTP code at login, the step-up grant
(``/operations/{id}/execute``), the OOB code (SMS, e-mail) at login, the CAP code at login,
the passkey assertion at login and the login flow after its completion. References: OWASP
ASVS 5.0 6.5.1 (one-time passwords, OOB and TOTP codes usable once), 6.6.2 (an OOB code
bound to its request), 6.7.2 (a fresh challenge each time), 7.2.4 (a new session token at
authentication), 7.5.3 (a further factor before a sensitive transaction); PSD2 RTS art. 4(1)
(an authentication code cannot be reused: a replayed code is refused), art. 5(1) (the code
is specific to the amount and payee of one operation). ``regulation.md`` of the shared
design, "Replay".
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack, closing
from datetime import timedelta
from functools import partial

import httpx
import pytest

from securebox_auth.emv.profiles import TerminalInput
from securebox_auth.factors.oob import Channel
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.identity import Principal
from securebox_server.stepup.orders import OrderBook
from tests.server.live.conftest import token, totp_now
from tests.server.live.material import bind_card, passkey
from tests.server.methods.conftest import EMAIL, PHONE
from tests.server.security.replay_support import (
    CODE,
    RESTARTS,
    ROUNDS,
    Pair,
    code_then_strong,
    form_of,
    pair_of_servers,
    post,
    race,
    start_login,
)
from tests.stores.conftest import postgres_admin_url  # noqa: F401 (a fixture, by name)

ORDER = re.compile(r"/operations/([A-Za-z0-9_-]+)")
OPTIONS = re.compile(r'data-options="([^"]+)"')
CEREMONY = re.compile(r'name="ceremony" value="([^"]+)"')
HIDDEN = re.compile(r'name="(challenge|target)" value="([^"]*)"')


@pytest.fixture(scope="module")
def pair(
    postgres_admin_url: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    with pair_of_servers(postgres_admin_url, tmp_path_factory.mktemp("replay")) as started:
        yield started


def _next_totp(pair: Pair, credential: TotpCredential | None) -> str:
    """The next time step's code (the enrolment's confirmation used the current one; the
    policy accepts one step of drift)."""
    assert credential is not None
    return totp_now(credential, pair.box.clock.now() + timedelta(seconds=30))


def _accepted_login(answer: httpx.Response) -> bool:
    return answer.status_code == 303 and answer.headers.get("location") == "/home"


def _refused_login(answer: httpx.Response) -> bool:
    return answer.status_code in (400, 401, 403, 409, 429) and "location" not in answer.headers


# -- TOTP at login ----------------------------------------------------------------------------


def _two_at_the_totp_prompt(
    pair: Pair, first: int, second: int
) -> tuple[Principal, str, list[tuple[httpx.Client, str]]]:
    """A new overdue user with TOTP; two browsers (on processes ``first`` and ``second``)
    at the TOTP prompt of their own login flows, each with its form's CSRF token."""
    principal, credential = pair.overdue(totp=True)
    ready = []
    for which in (first, second):
        browser = pair.browser(which)
        code_then_strong(browser, principal)
        ready.append((browser, form_of(browser, "/login/totp")))
    return principal, _next_totp(pair, credential), ready


def test_totp_code_at_login_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1): a TOTP code accepted at one login is
    refused at another login of the same user on the other process (not a new session)."""
    principal, code, ready = _two_at_the_totp_prompt(pair, 0, 1)
    (one, csrf_one), (two, csrf_two) = ready
    with closing(one), closing(two):
        assert _accepted_login(post(one, "/login/totp", csrf_one, code=code))
        again = post(two, "/login/totp", csrf_two, code=code)
        assert _refused_login(again), (again.status_code, again.headers)
        assert two.get("/home", follow_redirects=False).status_code == 303  # not logged in
        assert len(pair.box.sessions_of(principal)) == 1


def test_totp_code_at_login_raced_on_two_processes_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1): the same code posted to both processes at once:
    exactly one login opens, every round."""
    for _ in range(ROUNDS):
        principal, code, ready = _two_at_the_totp_prompt(pair, 0, 1)
        (one, csrf_one), (two, csrf_two) = ready
        with closing(one), closing(two):
            answers = race(
                partial(post, one, "/login/totp", csrf_one, code=code),
                partial(post, two, "/login/totp", csrf_two, code=code),
            )
        accepted = [a for a in answers if _accepted_login(a)]
        assert len(accepted) == 1, [(a.status_code, a.headers.get("location")) for a in answers]
        assert sum(_refused_login(a) for a in answers) == 1
        assert len(pair.box.sessions_of(principal)) == 1


# -- the OOB code (SMS, e-mail) at login -------------------------------------------------------


def _oob_sent(
    pair: Pair, channel: Channel, which: int
) -> tuple[Principal, httpx.Client, dict[str, str], str]:
    """A new overdue user with a verified destination; a browser on process ``which`` at
    the 90-day prompt asked a code by message: (principal, browser, the form's fields with
    the code received and the CSRF token, the destination)."""
    principal, _ = pair.overdue()
    to = EMAIL if channel is Channel.EMAIL else PHONE
    pair.enrol_destination(principal, channel, to)
    browser = pair.browser(which)
    code_then_strong(browser, principal)
    path = f"/login/{channel.value}"
    page = browser.get(path)
    assert page.status_code == 200, page.text
    sent = browser.post(
        f"{path}/send", data={**dict(HIDDEN.findall(page.text)), "csrf_token": token(page.text)}
    )
    assert sent.status_code == 200, sent.text
    fields = dict(HIDDEN.findall(sent.text))
    assert fields.get("challenge"), sent.text
    fields |= {"code": pair.last_code(channel, to), "csrf_token": token(sent.text)}
    return principal, browser, fields, path


def _second_flow(
    pair: Pair, principal: Principal, path: str, which: int
) -> tuple[httpx.Client, str]:
    """Another browser of the same user (on process ``which``) at the same prompt."""
    browser = pair.browser(which)
    code_then_strong(browser, principal)
    return browser, form_of(browser, path)


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL])
def test_oob_code_at_login_is_accepted_once(pair: Pair, channel: Channel) -> None:
    """ASVS 6.5.1, 6.6.2 (the code bound to its request); RTS art. 4(1): a code received by
    SMS or e-mail, accepted once, is refused when posted again with its challenge from
    another login flow of the same user on the other process, and when the flow's own
    cookies from before the acceptance post it again."""
    principal, browser, fields, path = _oob_sent(pair, channel, 0)
    other, csrf = _second_flow(pair, principal, path, 1)
    twin = pair.twin(browser, 1)  # the flow's cookies, kept from before the acceptance
    with closing(browser), closing(other), closing(twin):
        done = browser.post(path, data=fields, follow_redirects=False)
        assert _accepted_login(done), (done.status_code, done.headers)
        replayed = twin.post(path, data=fields, follow_redirects=False)
        assert not _accepted_login(replayed), (replayed.status_code, replayed.headers)
        assert replayed.status_code < 500
        again = other.post(path, data={**fields, "csrf_token": csrf}, follow_redirects=False)
        assert _refused_login(again), (again.status_code, again.headers)
        assert other.get("/home", follow_redirects=False).status_code == 303
    assert len(pair.box.sessions_of(principal)) == 1


def test_oob_code_at_login_raced_on_two_processes_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1): the code and its challenge posted at once to both
    processes, by the flow's browser and by a second flow of the same user: exactly one
    login opens, every round."""
    for _ in range(ROUNDS):
        principal, browser, fields, path = _oob_sent(pair, Channel.SMS, 0)
        other, csrf = _second_flow(pair, principal, path, 1)
        with closing(browser), closing(other):
            answers = race(
                partial(browser.post, path, data=fields, follow_redirects=False),
                partial(other.post, path, data={**fields, "csrf_token": csrf},
                        follow_redirects=False),
            )  # fmt: skip
        assert all(a.status_code < 500 for a in answers), [a.status_code for a in answers]
        accepted = [a for a in answers if _accepted_login(a)]
        assert len(accepted) == 1, [(a.status_code, a.headers.get("location")) for a in answers]
        assert len(pair.box.sessions_of(principal)) == 1


# -- the CAP code at login ----------------------------------------------------------------------


def _cap_code(pair: Pair) -> tuple[Principal, str]:
    """A new user with a CAP card bound the bank's way, and an Identify code of the card's
    (its application transaction counter is past the binding's)."""
    principal, _ = pair.user()
    name = principal.client_id.value
    card = bind_card(pair.box, principal, pair.home / f"card-{name}.json", f"card-{name}")
    return principal, card.code(TerminalInput.identify())


def _at_the_cap_prompt(pair: Pair, principal: Principal, which: int) -> tuple[httpx.Client, str]:
    browser = pair.browser(which)
    start_login(browser, principal)
    return browser, form_of(browser, "/login/cap")


def test_cap_code_at_login_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1): a CAP Identify code (bound to the card's counter) that
    opened a login is refused at another login of the same user on the other process."""
    principal, code = _cap_code(pair)
    one, csrf_one = _at_the_cap_prompt(pair, principal, 0)
    two, csrf_two = _at_the_cap_prompt(pair, principal, 1)
    with closing(one), closing(two):
        assert _accepted_login(post(one, "/login/cap", csrf_one, code=code))
        again = post(two, "/login/cap", csrf_two, code=code)
        assert _refused_login(again), (again.status_code, again.headers)
        assert two.get("/home", follow_redirects=False).status_code == 303
    assert len(pair.box.sessions_of(principal)) == 1


def test_cap_code_at_login_raced_on_two_processes_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1): the same CAP code posted by two login flows to both
    processes at once: exactly one login opens, every round."""
    for _ in range(ROUNDS):
        principal, code = _cap_code(pair)
        one, csrf_one = _at_the_cap_prompt(pair, principal, 0)
        two, csrf_two = _at_the_cap_prompt(pair, principal, 1)
        with closing(one), closing(two):
            answers = race(
                partial(post, one, "/login/cap", csrf_one, code=code),
                partial(post, two, "/login/cap", csrf_two, code=code),
            )
        accepted = [a for a in answers if _accepted_login(a)]
        assert len(accepted) == 1, [(a.status_code, a.headers.get("location")) for a in answers]
        assert sum(_refused_login(a) for a in answers) == 1
        assert len(pair.box.sessions_of(principal)) == 1


# -- the passkey assertion at login --------------------------------------------------------------


def _passkey_signed(pair: Pair) -> tuple[Principal, httpx.Client, dict[str, str]]:
    """A new user with a passkey; a browser on process 0 at the passkey prompt, and the
    form its authenticator signed for that page's challenge (ceremony, assertion, CSRF)."""
    principal, _ = pair.user()
    device = passkey(pair.box, principal, pair.public_url)
    browser = pair.browser(0)
    start_login(browser, principal)
    page = browser.get("/login/passkey")
    assert page.status_code == 200, page.text
    options, ceremony = OPTIONS.search(page.text), CEREMONY.search(page.text)
    assert options is not None, page.text
    assert ceremony is not None, page.text
    credential = device.get(json.loads(html.unescape(options.group(1))))
    form = {"ceremony": ceremony.group(1), "credential": json.dumps(credential)}
    return principal, browser, {**form, "csrf_token": token(page.text)}


def test_passkey_assertion_at_login_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1, 6.7.2 (a fresh challenge each time); RTS art. 4(1): a passkey assertion
    that opened a login, posted again by the same flow's cookies (kept from before) on the
    other process, or by another login flow of the same user, opens nothing."""
    principal, browser, form = _passkey_signed(pair)
    twin = pair.twin(browser, 1)
    other = pair.browser(1)
    start_login(other, principal)
    csrf = form_of(other, "/login/passkey")
    with closing(browser), closing(twin), closing(other):
        done = browser.post("/login/passkey", data=form, follow_redirects=False)
        assert _accepted_login(done), (done.status_code, done.headers)
        for replayed in (
            twin.post("/login/passkey", data=form, follow_redirects=False),
            other.post("/login/passkey", data={**form, "csrf_token": csrf},
                       follow_redirects=False),
        ):  # fmt: skip
            assert not _accepted_login(replayed), (replayed.status_code, replayed.headers)
            assert replayed.status_code < 500
        assert other.get("/home", follow_redirects=False).status_code == 303
    assert len(pair.box.sessions_of(principal)) == 1


def test_passkey_assertion_raced_on_two_processes_is_accepted_once(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1): one assertion posted by one flow to both processes at
    once: exactly one login opens, every round."""
    for _ in range(ROUNDS):
        principal, browser, form = _passkey_signed(pair)
        twin = pair.twin(browser, 1)
        with closing(browser), closing(twin):
            answers = race(
                partial(browser.post, "/login/passkey", data=form, follow_redirects=False),
                partial(twin.post, "/login/passkey", data=form, follow_redirects=False),
            )
        assert all(a.status_code < 500 for a in answers), [a.status_code for a in answers]
        accepted = [a for a in answers if _accepted_login(a)]
        assert len(accepted) == 1, [(a.status_code, a.headers.get("location")) for a in answers]
        assert len(pair.box.sessions_of(principal)) == 1


# -- the login flow id after completion -------------------------------------------------------


def _at_the_code_prompt(pair: Pair) -> tuple[Principal, httpx.Client, httpx.Client, str]:
    """A new user (strong login recent: the code alone completes the login); a browser on
    process 0 at the code prompt, its twin (same cookies: the same flow) on process 1."""
    principal, _ = pair.user()
    browser = pair.browser(0)
    start_login(browser, principal)
    csrf = form_of(browser, "/login/code")
    return principal, browser, pair.twin(browser, 1), csrf


def test_completed_login_flow_is_not_completed_again(pair: Pair) -> None:
    """ASVS 7.2.4 (a new session token at authentication), 6.5.1; RTS art. 4(1): the
    flow's cookie kept from before the completion and its last step posted again (on the
    other process) opens no second session."""
    principal, browser, twin, csrf = _at_the_code_prompt(pair)
    with closing(browser), closing(twin):
        assert _accepted_login(post(browser, "/login/code", csrf, code=CODE))
        again = post(twin, "/login/code", csrf, code=CODE)
        assert not _accepted_login(again), (again.status_code, again.headers)
        assert again.status_code < 500
        assert twin.get("/home", follow_redirects=False).status_code == 303
    assert len(pair.box.sessions_of(principal)) == 1


def test_login_flow_raced_on_two_processes_completes_once(pair: Pair) -> None:
    """ASVS 7.2.4, 6.5.1; RTS art. 4(1): the last step of one flow posted to both
    processes at once: exactly one session opens, every round."""
    for _ in range(ROUNDS):
        principal, browser, twin, csrf = _at_the_code_prompt(pair)
        with closing(browser), closing(twin):
            answers = race(
                partial(post, browser, "/login/code", csrf, code=CODE),
                partial(post, twin, "/login/code", csrf, code=CODE),
            )
        assert all(a.status_code < 500 for a in answers), [a.status_code for a in answers]
        accepted = [a for a in answers if _accepted_login(a)]
        assert len(accepted) == 1, [(a.status_code, a.headers.get("location")) for a in answers]
        assert len(pair.box.sessions_of(principal)) == 1


# -- the step-up grant ------------------------------------------------------------------------


def _approved_payee(pair: Pair, which: int) -> tuple[Principal, httpx.Client, str, str]:
    """A code-only session on process ``which``; a new payee entered and approved with a
    passkey (the payee form asks one): (principal, browser, order id, the payee's IBAN)."""
    principal, _ = pair.user()
    device = passkey(pair.box, principal, pair.public_url)
    browser = pair.browser(which)
    start_login(browser, principal)
    logged = post(browser, "/login/code", form_of(browser, "/login/code"), code=CODE)
    assert logged.headers.get("location") == "/home", logged.text
    iban = "DE89370400440532013000"
    sent = post(browser, "/payees/new", form_of(browser, "/payees/new"),
                name=f"Payee {principal.client_id.value}", iban=iban)  # fmt: skip
    assert sent.status_code == 303, sent.text
    found = ORDER.fullmatch(sent.headers["location"])
    assert found is not None, sent.headers
    order = found.group(1)
    path = f"/operations/{order}/proof/passkey_uv"
    page = browser.get(path)
    assert page.status_code == 200, page.text
    options, ceremony = OPTIONS.search(page.text), CEREMONY.search(page.text)
    assert options is not None, page.text
    assert ceremony is not None, page.text
    response = device.get(json.loads(html.unescape(options.group(1))))
    proved = post(browser, path, token(page.text), ceremony=ceremony.group(1),
                  response=json.dumps(response))  # fmt: skip
    assert proved.status_code == 303, proved.text
    return principal, browser, order, iban


def _execute(browser: httpx.Client, order: str) -> httpx.Response:
    csrf = form_of(browser, f"/operations/{order}")
    return browser.post(f"/operations/{order}/execute", data={"csrf_token": csrf})


def _payees(pair: Pair, principal: Principal) -> list[str]:
    return [p.iban for p in OrderBook(pair.box.store.engine).payees(principal)]  # type: ignore[attr-defined]


def _done(pair: Pair, principal: Principal, order: str) -> bool:
    book = OrderBook(pair.box.store.engine)  # type: ignore[attr-defined]
    return book.get(principal, order).status == "done"


def test_step_up_grant_executes_once(pair: Pair) -> None:
    """ASVS 6.5.1, 7.5.3; RTS art. 4(1), art. 5(1): the approved operation executed a
    second time (the same session, on the other process) is refused; the payee is saved
    once."""
    principal, browser, order, iban = _approved_payee(pair, 0)
    with closing(browser), pair.twin(browser, 1) as other:
        done = _execute(browser, order)
        assert done.status_code == 200, done.text
        again = _execute(other, order)
        assert again.status_code in (403, 409), again.text
    assert _payees(pair, principal) == [iban]
    assert _done(pair, principal, order)


def test_step_up_grant_raced_on_two_processes_executes_once(pair: Pair) -> None:
    """ASVS 6.5.1, 7.5.3; RTS art. 4(1), art. 5(1): the same approved operation executed on
    both processes at once: exactly one 200 and one payee saved, every round."""
    for _ in range(ROUNDS):
        principal, browser, order, iban = _approved_payee(pair, 0)
        with closing(browser), pair.twin(browser, 1) as other:
            csrf = form_of(browser, f"/operations/{order}")
            path = f"/operations/{order}/execute"
            answers = race(
                partial(browser.post, path, data={"csrf_token": csrf}),
                partial(other.post, path, data={"csrf_token": csrf}),
            )
        statuses = sorted(a.status_code for a in answers)
        assert statuses[0] == 200, statuses
        assert statuses[1] in (401, 403, 409), statuses  # 401: the flow was consumed
        assert _payees(pair, principal) == [iban]
        assert _done(pair, principal, order)


# -- after a restart ---------------------------------------------------------------------------


def test_one_time_values_are_refused_after_a_restart(pair: Pair) -> None:
    """ASVS 6.5.1; RTS art. 4(1), art. 5(1): what records a use (the TOTP
    step, the consumed grant) is in the database, not in the process: a TOTP code accepted
    before the restart and the execution of an approved operation, replayed to the process
    stopped (by its group id) and started again on the same database, are refused; so is
    an SMS code accepted before the restart, posted with its challenge from another flow,
    and a CAP code posted by another flow."""
    for _ in range(RESTARTS):
        principal, code, ready = _two_at_the_totp_prompt(pair, 0, 0)
        (one, csrf_one), (two, csrf_two) = ready
        payer, browser, order, iban = _approved_payee(pair, 0)
        texted, phone, fields, path = _oob_sent(pair, Channel.SMS, 0)
        later, csrf = _second_flow(pair, texted, path, 0)
        carded, cap = _cap_code(pair)
        first, csrf_first = _at_the_cap_prompt(pair, carded, 0)
        second, csrf_second = _at_the_cap_prompt(pair, carded, 0)
        with ExitStack() as stack:
            for opened in (one, two, browser, phone, later, first, second):
                stack.enter_context(closing(opened))
            assert _accepted_login(post(one, "/login/totp", csrf_one, code=code))
            assert _execute(browser, order).status_code == 200
            assert _accepted_login(phone.post(path, data=fields, follow_redirects=False))
            assert _accepted_login(post(first, "/login/cap", csrf_first, code=cap))
            pair.restart(0)
            card = post(second, "/login/cap", csrf_second, code=cap)
            assert _refused_login(card), (card.status_code, card.headers)
            sms = later.post(path, data={**fields, "csrf_token": csrf}, follow_redirects=False)
            assert _refused_login(sms), (sms.status_code, sms.headers)
            again = post(two, "/login/totp", csrf_two, code=code)
            assert _refused_login(again), (again.status_code, again.headers)
            assert one.get("/home", follow_redirects=False).status_code == 200  # still on
            replayed = _execute(browser, order)
            assert replayed.status_code in (403, 409), replayed.text
        assert len(pair.box.sessions_of(principal)) == 1
        assert _payees(pair, payer) == [iban]
        assert _done(pair, payer, order)
        assert len(pair.box.sessions_of(texted)) == 1
        assert len(pair.box.sessions_of(carded)) == 1


__all__: list[str] = []
