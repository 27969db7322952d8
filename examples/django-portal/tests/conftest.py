"""Each test gets a fresh securebox store (SQLite, in a temporary folder, with securebox's
own migrations), a clock it moves, the demo subscription, and Django's test database."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from securebox_auth import FixedClock, Securebox, TotpEnrolment

from bank.auth import SESSION_KEY
from bank.demo import ALICE_CODE, Demo, next_totp, open_demo
from bank.securebox import build_box, use_box

BOB_CODE = "58302617"


@dataclass
class Portal:
    box: Securebox
    clock: FixedClock
    demo: Demo
    outbox: Path

    def sms(self) -> list[dict[str, Any]]:
        """The messages securebox's SMS gateway handed over, oldest first."""
        if not self.outbox.exists():
            return []
        return [json.loads(line) for line in self.outbox.read_text().splitlines()]


@pytest.fixture
def portal(tmp_path: Path, settings: Any, db: None) -> Iterator[Portal]:
    outbox = tmp_path / "sms.jsonl"
    settings.SECUREBOX = {
        **settings.SECUREBOX,
        "STORE_URL": f"sqlite:///{tmp_path / 'securebox.db'}",
        "MASTER_KEY": f"k1:{secrets.token_hex(32)}",
        "SMS_OUTBOX": outbox,
    }
    clock = FixedClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    box = build_box(clock=clock)
    use_box(box)
    try:
        yield Portal(box, clock, open_demo(box), outbox)
    finally:
        use_box(None)


def log_in(
    client: Client, portal: Portal, user: str, code: str, totp: TotpEnrolment | None
) -> None:
    """Log in through the portal's pages (the code; TOTP when securebox asks for it)."""
    client.post("/login/", {"client_id": "123456789", "user_number": user})
    page = client.post("/login/factor/", {"method": "confidential_code", "code": code})
    if page.status_code == 302:
        return
    assert totp is not None, page.content.decode()
    done = client.post("/login/factor/", {"method": "totp", "code": next_totp(totp, portal.box)})
    assert done.status_code == 302, done.content.decode()


def log_in_bob(client: Client, portal: Portal) -> Client:
    """Bob's first login: the letter's code, his new code, TOTP (the first access)."""
    letter = portal.demo.bob_letter.reveal()
    client.post("/login/", {"client_id": "123456789", "user_number": "02"})
    client.post("/login/factor/", {"method": "confidential_code", "code": letter})
    client.post("/login/factor/", {"current": letter, "new": BOB_CODE})
    code = next_totp(portal.demo.bob_totp, portal.box)
    assert client.post("/login/factor/", {"method": "totp", "code": code}).status_code == 302
    return client


@pytest.fixture
def alice(client: Client, portal: Portal) -> Client:
    """Alice, logged in (her first login was strong: the code is enough within 90 days)."""
    log_in(client, portal, "01", ALICE_CODE, portal.demo.alice_totp)
    assert isinstance(client.session[SESSION_KEY], str)
    return client
