"""The recovery-code page: the library never offers a recovery code at login (it is a way
back into an account, never an element of strong authentication), so the page says so and
a submission is refused by the library without using the code up."""

from __future__ import annotations

from pathlib import Path

from securebox_auth.factors.oob import Channel
from tests.server.conftest import AppMaker, open_user, token
from tests.server.methods.conftest import EMAIL, Enrol
from tests.server.methods.test_oob import second_factor


def test_a_recovery_code_is_not_a_login_factor(
    make_app: AppMaker, enrol: Enrol, policy: Path, tmp_path: Path
) -> None:
    client, box, clock = make_app(policy=policy, outbox=tmp_path / "outbox.jsonl")
    principal, _ = open_user(box, strong=False)
    enrol(box, clock, principal, Channel.EMAIL, EMAIL)  # codes go to verified ones only
    codes = box.factors.recovery.generate(principal).reveal()
    second_factor(client)  # the methods offered: codes by SMS and e-mail (the outbox)
    assert "/login/recovery" not in client.get("/login/strong").text
    page = client.get("/login/recovery")
    assert page.status_code == 200
    assert "cannot be used for this login" in page.text
    assert 'name="code"' not in page.text
    refused = client.post(
        "/login/recovery", data={"code": codes[0], "csrf_token": token(page.text)}
    )
    assert refused.status_code == 409
    assert "not expected now" in refused.text
    # Not used up by the refused submission; used once, it is refused the second time.
    assert box.factors.recovery.verify(principal, codes[0]).ok
    assert not box.factors.recovery.verify(principal, codes[0]).ok


def test_recovery_junk_is_refused_without_a_500(
    make_app: AppMaker, enrol: Enrol, policy: Path, tmp_path: Path
) -> None:
    client, box, clock = make_app(policy=policy, outbox=tmp_path / "outbox.jsonl")
    principal, _ = open_user(box, strong=False)
    enrol(box, clock, principal, Channel.EMAIL, EMAIL)
    second_factor(client)
    csrf = token(client.get("/login/recovery").text)
    for code in ("", "x" * 65, "\x00", "ABCD-EFGH-JKMN-PQRS", "é" * 20):
        answer = client.post("/login/recovery", data={"code": code, "csrf_token": csrf})
        assert 400 <= answer.status_code < 500, (code, answer.status_code)
