"""``securebox clients``: add a sender and a receiver, list, revoke, on a settings database;
the sender registered by the command gets a token from the app on the same database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from securebox_auth.cli import main
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.entitlements.model import Company
from securebox_auth.identity import ClientId, Principal, Siren, UserNumber
from securebox_auth.stores.protocols import PutSubscription
from tests.server.clients.helpers import Registered, new_key, self_signed, token_response
from tests.server.conftest import AppMaker

SIREN = "552100554"


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECUREBOX_DATABASE_URL", f"sqlite:///{tmp_path}/server.db")
    monkeypatch.setenv("SECUREBOX_DEMO", "true")
    monkeypatch.setenv("SECUREBOX_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    monkeypatch.setenv("SECUREBOX_PUBLIC_URL", "http://testserver")
    monkeypatch.delenv("SECUREBOX_SETTINGS", raising=False)
    return tmp_path


def _client_id(out: str) -> str:
    return next(line.split(": ")[1] for line in out.splitlines() if line.startswith("client_id"))


def test_add_list_revoke(
    environment: Path, make_app: AppMaker, capsys: pytest.CaptureFixture[str]
) -> None:
    del make_app
    key, jwks = new_key("EdDSA", kid="k1")
    (environment / "jwks.json").write_text(json.dumps(jwks))
    (environment / "cert.pem").write_bytes(self_signed("erp")[1])
    assert main(["clients", "add-sender", "--sender", "bank", "--name", "Back office",
                 "--jwks", str(environment / "jwks.json")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    sender = _client_id(out)
    assert "http://testserver/api/v1/oauth/token (private_key_jwt)" in out
    # a receiver needs a subscription holding the company
    from securebox_server.settings import load_settings  # noqa: PLC0415
    from securebox_server.wiring import build_securebox  # noqa: PLC0415

    box = build_securebox(load_settings())
    principal = Principal(ClientId("123456789"), UserNumber("01"))
    box.codes.create_subscription(Operator("bank"), principal)
    found = box.store.get_subscription(principal.client_id)
    assert found is not None
    company = Company(Siren(SIREN), "ACME", box.clock.now())
    box.store.commit([PutSubscription(principal.client_id, found.version,
                                      found.value.with_company(company))], [])  # fmt: skip
    assert main(["clients", "add-receiver", "--client-id", "123456789", "--company", SIREN,
                 "--name", "ERP", "--certificate", str(environment / "cert.pem")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    receiver = _client_id(out)
    assert "account: 123456789:9999" in out
    assert main(["clients", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:3] for line in listing] == [
        [sender, "sender", "active"],
        [receiver, "receiver", "active"],
    ]
    assert listing[1].split("\t")[3] == f"123456789:{SIREN}"
    assert main(["clients", "revoke", receiver]) == 0
    assert main(["clients", "revoke", "rcv_nobody"]) == 1
    capsys.readouterr()
    assert main(["clients", "list"]) == 0
    assert "\treceiver\trevoked\t" in capsys.readouterr().out
    account = box.store.get_account(Principal(ClientId("123456789"), UserNumber("9999")))
    assert account is not None
    assert not account.value.active
    del key


def test_input_errors_are_usage_errors(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (environment / "bad.json").write_text("{not json")
    assert main(["clients", "add-sender", "--sender", "bank", "--name", "B"]) == 2
    assert main(["clients", "add-sender", "--sender", "bank", "--name", "B",
                 "--jwks", str(environment / "bad.json")]) == 2  # fmt: skip
    private = {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}]}
    (environment / "private.json").write_text(json.dumps(private))
    assert main(["clients", "add-sender", "--sender", "bank", "--name", "B",
                 "--jwks", str(environment / "private.json")]) == 2  # fmt: skip
    assert main(["clients", "add-receiver", "--client-id", "123456789", "--company", SIREN,
                 "--name", "ERP", "--jwks", str(environment / "missing.json")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "private parts" in err


def test_a_registered_sender_gets_a_token_from_the_app(
    environment: Path, capsys: pytest.CaptureFixture[str], make_app: AppMaker
) -> None:
    """The command and the app share the database file (``tmp_path/server.db``)."""
    del environment
    client, _, _ = make_app()
    key, jwks = new_key("ES256", kid="k1")
    path = Path(str(client.app.state.server.settings.database_url).removeprefix("sqlite:///"))  # type: ignore[attr-defined]
    (path.parent / "jwks.json").write_text(json.dumps(jwks))
    assert main(["clients", "add-sender", "--sender", "bank", "--name", "Back office",
                 "--jwks", str(path.parent / "jwks.json")]) == 0  # fmt: skip
    client_id = _client_id(capsys.readouterr().out)
    registered = client.app.state.server.clients.store.get(client_id)  # type: ignore[attr-defined]
    assert registered is not None
    answer = token_response(client, Registered(registered, key, "ES256", "k1"))
    assert answer.status_code == 200, answer.text
