"""The demo's virtual CAP reader page: codes through the real card and reader code path,
the PIN checked by the card, and the page absent without demo mode."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from securebox_auth.cards.reader import CapReader
from securebox_auth.cards.softcard import SoftEmvCard
from securebox_auth.emv.profiles import TerminalInput, get_profile, numeric_currency
from securebox_auth.errors import ConfigurationError
from securebox_auth.shell.keys import DerivedKeys
from securebox_server.app import create_app
from securebox_server.demo_cap import CAP_PROFILE
from securebox_server.settings import Settings
from securebox_server.web.routing import walk
from securebox_server.wiring import write_master_key
from tests.server.conftest import token
from tests.server.methods.conftest import DISPLAY, CapServer, cap_settings


def test_reader_moves_the_card_atc(cap_server: CapServer) -> None:
    path = cap_server.cards / "demo-cap-card.json"
    before = SoftEmvCard.from_file(path).state.atc
    first, second = cap_server.code(), cap_server.code()
    assert first != second
    assert len(first) == 8
    assert SoftEmvCard.from_file(path).state.atc == before + 2


def test_wrong_pin_counts_on_the_card_and_reset(cap_server: CapServer) -> None:
    wrong = "0000" if cap_server.pin != "0000" else "1111"
    refused = cap_server.reader(pin=wrong)
    assert refused.status_code == 400
    assert 'role="alert"' in refused.text
    assert DISPLAY.search(refused.text) is None
    card = SoftEmvCard.from_file(cap_server.cards / "demo-cap-card.json")
    assert card.state.pin_tries == card.state.pin_try_limit - 1
    page = cap_server.client.get("/demo/cap-reader")
    reset = cap_server.client.post(
        "/demo/cap-reader",
        data={"card": "demo-cap-card", "unblock": "1", "csrf_token": token(page.text)},
    )
    assert reset.status_code == 200
    card = SoftEmvCard.from_file(cap_server.cards / "demo-cap-card.json")
    assert card.state.pin_tries == card.state.pin_try_limit
    assert len(cap_server.code()) == 8


def test_reader_page_is_plain_html(cap_server: CapServer) -> None:
    page = cap_server.client.get("/demo/cap-reader")
    assert page.status_code == 200
    assert "<script" not in page.text
    assert "style=" not in page.text
    assert '<label for="pin">' in page.text
    assert '<label for="challenge">' in page.text


def test_reader_absent_without_demo(tmp_path: Path, migrated_sqlite: Path) -> None:
    shutil.copyfile(migrated_sqlite, tmp_path / "server.db")
    write_master_key(tmp_path / "master.key")
    settings = cap_settings(tmp_path, demo=False)
    app = create_app(settings, keys=DerivedKeys.generate())
    paths = {getattr(route, "path", "") for route in walk(app.routes)}
    assert not any(p.startswith("/demo") for p in paths)
    assert "/login/cap" in paths
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/demo/cap-reader").status_code == 404
    with pytest.raises(ConfigurationError):
        Settings(master_key_file=tmp_path / "master.key", demo_cards_dir=tmp_path)


def _sign(server: CapServer, challenge: str, amount: str):  # type: ignore[no-untyped-def]
    page = server.client.get("/demo/cap-reader")
    form = {"card": "demo-cap-card", "pin": server.pin, "mode": "sign", "challenge": challenge,
            "amount": amount, "csrf_token": token(page.text)}  # fmt: skip
    return server.client.post("/demo/cap-reader", data=form)


def test_sign_mode_signs_the_challenge_and_the_amount(
    cap_server: CapServer, tmp_path: Path
) -> None:
    """What a transfer's approval page asks (Sign: challenge, amount in cents, in euros): the
    code the card computes for exactly that, through the same reader code path."""
    twin = tmp_path / "twin.json"  # the card as it is now: the same counter, the same code
    shutil.copyfile(cap_server.cards / "demo-cap-card.json", twin)
    data = TerminalInput.sign("12345678", 125050, numeric_currency("EUR"))
    expected = CapReader(SoftEmvCard.from_file(twin), get_profile(CAP_PROFILE)).run(
        data, cap_server.pin
    )
    shown = _sign(cap_server, "12345678", "125050")
    assert shown.status_code == 200, shown.text
    found = DISPLAY.search(shown.text)
    assert found is not None, shown.text
    assert found.group(1) == expected.display
    assert 'id="mode-sign" name="mode" value="sign" checked' in shown.text


@pytest.mark.parametrize("amount", ["", "12.50", "12345678901"])
def test_sign_mode_needs_an_amount_in_cents(cap_server: CapServer, amount: str) -> None:
    refused = _sign(cap_server, "12345678", amount)
    assert refused.status_code == 400
    assert DISPLAY.search(refused.text) is None
    assert 'href="#amount"' in refused.text
    assert 'aria-describedby="amount-hint" aria-invalid="true"' in refused.text
