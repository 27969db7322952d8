"""The demo's virtual CAP reader page: codes through the real card and reader code path,
the PIN checked by the card, and the page absent without demo mode."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from securebox_auth.cards.softcard import SoftEmvCard
from securebox_auth.errors import ConfigurationError
from securebox_auth.shell.keys import DerivedKeys
from securebox_server.app import create_app
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
