"""The code courier: a new code reaches a real SMTP server (aiosmtpd) or a letter file
(0600, a fresh file each time), and every failure is ``Undelivered`` (nothing reaches anyone
else)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from securebox_auth.factors.code import OneTimeCode
from securebox_auth.identity import Principal
from securebox_server.admin.codes import CodeChannel, CodeCourier, Undelivered
from securebox_server.admin.profiles import Profile
from tests.server.admin.conftest import CODE_IN
from tests.server.jobs.conftest import SmtpRelay

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
WHO = Principal.parse("123456789", "02")
CLAIRE = Profile("mrs", "Martin", "Claire", "+33612345678", None, "c@company.example", "Payroll")


def test_channels_follow_the_configuration(tmp_path: Path, smtp_relay: SmtpRelay) -> None:
    assert CodeCourier({}).channels() == ()
    both = CodeCourier({"email": smtp_relay.gateway()}, tmp_path)
    assert both.channels() == (CodeChannel.EMAIL, CodeChannel.LETTER)
    with pytest.raises(Undelivered):
        both.deliver(
            OneTimeCode("12345678"), WHO, CodeChannel.SMS, address="+336", profile=None, now=NOW
        )


def test_an_email_reaches_the_relay(smtp_relay: SmtpRelay) -> None:
    courier = CodeCourier({"email": smtp_relay.gateway()})
    courier.deliver(
        OneTimeCode("12345678"),
        WHO,
        CodeChannel.EMAIL,
        address="c@company.example",
        profile=CLAIRE,
        now=NOW,
    )
    (mail,) = smtp_relay.relay.messages()
    assert mail["To"] == "c@company.example"
    found = CODE_IN.search(mail.get_body().get_content())  # type: ignore[union-attr]
    assert found is not None
    assert found.group(1) == "12345678"
    with pytest.raises(Undelivered):
        courier.deliver(
            OneTimeCode("12345678"), WHO, CodeChannel.EMAIL, address=None, profile=CLAIRE, now=NOW
        )


def test_a_refused_mail_is_undelivered(smtp_relay: SmtpRelay) -> None:
    smtp_relay.relay.answer = "550 no such mailbox"
    courier = CodeCourier({"email": smtp_relay.gateway()})
    with pytest.raises(Undelivered):
        courier.deliver(
            OneTimeCode("12345678"),
            WHO,
            CodeChannel.EMAIL,
            address="c@x.example",
            profile=None,
            now=NOW,
        )


def test_a_letter_is_private_and_never_overwritten(tmp_path: Path) -> None:
    courier = CodeCourier({}, tmp_path / "letters")
    courier.deliver(
        OneTimeCode("12345678"), WHO, CodeChannel.LETTER, address=None, profile=CLAIRE, now=NOW
    )
    (letter,) = (tmp_path / "letters").iterdir()
    assert os.stat(letter).st_mode & 0o777 == 0o600
    text = letter.read_text()
    assert text.startswith("Mrs Claire Martin")
    assert "12345678" in text
    courier.deliver(
        OneTimeCode("87654321"), WHO, CodeChannel.LETTER, address=None, profile=None, now=NOW
    )
    assert len(list((tmp_path / "letters").iterdir())) == 2  # a second letter, the first kept
    assert "12345678" in letter.read_text()
    (tmp_path / "blocked").write_text("a file, not a folder")
    with pytest.raises(Undelivered):
        CodeCourier({}, tmp_path / "blocked").deliver(
            OneTimeCode("1"), WHO, CodeChannel.LETTER, address=None, profile=None, now=NOW
        )
