"""The tutorial (``docs/tutorial.md``) as a function, run by pytest and checked by ``mypy
--strict``; :func:`test_the_copy_is_the_tutorial` fails when the two drift apart (copy the
page's blocks into the body again)."""

# ruff: noqa: PLC0415
from __future__ import annotations

import importlib.util
import inspect
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tutorial() -> None:
    import tempfile
    from datetime import timedelta
    from pathlib import Path

    from securebox_auth import (
        PROFILE_TESTING,
        Channel,
        CodeAnswer,
        DerivedKeys,
        FixedClock,
        LoginState,
        OobAnswer,
        OobMessage,
        OperationRequest,
        Operator,
        Principal,
        Securebox,
        TotpAnswer,
        open_sql_store,
        totp_code_at,
    )

    home = Path(tempfile.mkdtemp())
    (home / "portal.toml").write_text("""
    version = 1
    name = "portal"

    [operation.payee_management]
    methods = ["confidential_code", "sms_otp", "cap_sign", "passkey_uv"]
    single_use = true
    linking = "payee"
    """)

    class Phone:
        """Stands for the SMS gateway (an HttpSmsGateway in production)."""

        def __init__(self) -> None:
            self.code = ""

        def send(self, message: OobMessage) -> None:
            self.code = message.body.split()[1]  # "securebox: 123456 is your code ..."

    phone, clock, keys = Phone(), FixedClock(), DerivedKeys.generate()
    store = open_sql_store(f"sqlite:///{home}/portal.db", audit_key=keys.audit_key(), migrate=True)
    box = Securebox.from_policy(
        home / "portal.toml",
        store=store,
        keys=keys,
        clock=clock,
        gateways={"sms": phone},
        argon2=PROFILE_TESTING,  # fast argon2id parameters: tests only
    )

    boss = Principal.parse("123456789", "01")
    letter = box.codes.create_subscription(Operator("back-office"), boss)
    totp = box.enrol_first_totp(Operator("back-office"), boss)  # show totp.qr_svg()
    assert box.confirm_totp(boss, totp_code_at(totp.credential, clock.now()))
    clock.advance(timedelta(seconds=30))

    page = box.start_login("123456789", "01")
    page = box.answer_login(page.handle, CodeAnswer(letter.reveal()))
    assert page.state is LoginState.CODE_CHANGE
    page = box.change_login_code(page.handle, letter.reveal(), "47120938")
    assert page.state is LoginState.SECOND_FACTOR
    assert page.offered == ("totp",)
    print(page.explain())  # ... StepUpRequired (first_access) for login
    page = box.answer_login(page.handle, TotpAnswer(totp_code_at(totp.credential, clock.now())))
    assert page.session_id is not None  # the session is open; the renewal clock restarted
    session_id = page.session_id

    mobile = "+33612345678"  # codes go only to a verified number: the user enrols it first
    enrolling = box.begin_destination(session_id, channel=Channel.SMS, destination=mobile)
    kept = box.confirm_destination(
        session_id, enrolling, phone.code, channel=Channel.SMS, destination=mobile
    )
    assert kept.ok
    clock.advance(timedelta(seconds=30))  # the minimum interval between two codes
    payee = OperationRequest("payee_management", payee="FR7630006000011234567890189")
    up = box.start_step_up(session_id, payee)
    print(up.display)  # (('payee', 'IBAN:FR7630006000011234567890189'),)
    sms = box.send_step_up_code(session_id, up.handle, channel=Channel.SMS, destination=mobile)
    up = box.prove_step_up(session_id, up.handle, OobAnswer(sms, phone.code))
    up = box.prove_step_up(session_id, up.handle, CodeAnswer("47120938"))
    assert up.ready  # a grant was issued
    assert up.session_id != session_id  # and the session has a new identifier
    session_id = up.session_id
    done = box.execute(session_id, up.handle)  # the grant is consumed here, exactly once
    assert done.executed

    token = box.assertion(session_id, audience="payments-api")
    checked = box.assertion_verifier("payments-api").verify(token, subject=boss)
    assert checked.acr == "urn:securebox:acr:sca"
    print(box.jwks()["keys"][0]["kid"], box.verify_audit(), "audit events")


def _lines(text: str) -> list[str]:
    return [line for line in textwrap.dedent(text).splitlines() if line.strip()]


def test_the_copy_is_the_tutorial() -> None:
    spec = importlib.util.spec_from_file_location("check_docs", ROOT / "tools" / "check_docs.py")
    assert spec is not None
    assert spec.loader is not None
    check_docs = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_docs", check_docs)
    spec.loader.exec_module(check_docs)
    page = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    blocks = "\n".join(b.source for b in check_docs.extract_blocks(page) if b.run)
    body = inspect.getsource(test_tutorial).split("\n", 1)[1]
    assert _lines(body) == _lines(blocks)
