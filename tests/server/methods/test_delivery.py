"""The gateways from the settings' URLs, and the demo outbox: mounted in demo mode only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from securebox_auth.errors import ConfigurationError
from securebox_auth.factors.oob import Channel
from securebox_auth.identity import Principal
from securebox_auth.shell.gateways import FileOutbox, HttpSmsGateway, SmtpGateway
from securebox_server.delivery import build_gateways, sms_gateway, smtp_gateway
from securebox_server.demo_data import DEMO_EMAIL, DEMO_PHONE, prepare, seed
from securebox_server.settings import Settings, load_settings
from securebox_server.web.routing import walk
from securebox_server.wiring import build_securebox, write_master_key
from tests.server.conftest import AppMaker, open_user
from tests.server.methods.conftest import PHONE, Enrol
from tests.server.methods.test_oob import second_factor, send


def test_smtp_urls() -> None:
    relay = smtp_gateway("smtp://mailer:p%40ss@relay.bank.example?from=no-reply@bank.example")
    assert relay == SmtpGateway(
        host="relay.bank.example",
        port=587,
        sender="no-reply@bank.example",
        username="mailer",
        password="p@ss",
    )
    local = smtp_gateway("smtp+plain://127.0.0.1:2525?from=demo@bank.example")
    assert (local.starttls, local.port, local.username) == (False, 2525, None)
    for bad in (
        "smtp+plain://relay.bank.example?from=a@b.example",  # plain SMTP off loopback
        "smtp://relay.bank.example",  # no sender
        "http://relay.bank.example?from=a@b.example",
        "smtp://relay.bank.example:99999?from=a@b.example",
        "smtp://mailer@relay.bank.example?from=a@b.example",  # user without password
    ):
        with pytest.raises(ConfigurationError):
            smtp_gateway(bad)


def test_sms_urls() -> None:
    hook = sms_gateway("https://t0k%2Fen@sms.example/v1/send?account=7")
    assert hook == HttpSmsGateway(url="https://sms.example/v1/send?account=7", token="t0k/en")
    assert "t0k" not in repr(hook)
    assert sms_gateway("http://:tok@127.0.0.1:8080/send").url == "http://127.0.0.1:8080/send"
    for bad in ("https://sms.example/send", "http://tok@sms.example/send", "tok@x", "https://t@:x"):
        with pytest.raises(ConfigurationError):
            sms_gateway(bad)


def test_settings_wire_the_gateways(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_settings({"SECUREBOX_DEMO": "1", "SECUREBOX_SMTP_URL": "smtp://relay"})
    key = tmp_path / "master.key"
    write_master_key(key)
    with pytest.raises(ConfigurationError):  # the outbox keeps codes in clear: demo only
        Settings(master_key_file=key, outbox=tmp_path / "outbox.jsonl")
    settings = load_settings(
        {
            "SECUREBOX_DEMO": "true",
            "SECUREBOX_OUTBOX": str(tmp_path / "outbox.jsonl"),
            "SECUREBOX_SMS_URL": "https://tok@sms.example/send",
        }
    )
    gateways = build_gateways(settings.smtp_url, settings.sms_url, settings.outbox)
    assert isinstance(gateways["sms"], HttpSmsGateway)
    assert gateways["email"] == FileOutbox(tmp_path / "outbox.jsonl")
    assert build_gateways(None, None, None) == {}


def test_no_demo_outbox_outside_demo_mode(make_app: AppMaker, tmp_path: Path) -> None:
    key = tmp_path / "master.key"
    write_master_key(key)
    client, _, _ = make_app(demo=False, master_key_file=key, rate_limits_enabled=True)
    paths = {getattr(route, "path", "") for route in walk(client.app.routes)}  # type: ignore[attr-defined]
    assert "/demo/outbox" not in paths
    assert client.get("/demo/outbox").status_code == 404
    demo_client, _, _ = make_app()  # demo mode without an outbox: no page either
    assert demo_client.get("/demo/outbox").status_code == 404


def test_demo_outbox_lists_the_codes_sent(
    make_app: AppMaker, enrol: Enrol, policy: Path, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.jsonl"
    client, box, clock = make_app(policy=policy, outbox=outbox)
    principal, _ = open_user(box, strong=False)
    enrol(box, clock, principal, Channel.SMS, PHONE)
    second_factor(client)
    assert send(client, "sms")[0] == 200
    (message,) = FileOutbox(outbox).messages()
    assert message["to"] == PHONE
    page = client.get("/demo/outbox")
    assert page.status_code == 200
    assert PHONE in page.text
    assert message["body"] in page.text


def test_demo_seed_gives_user_05_destinations_and_recovery_codes(tmp_path: Path) -> None:
    extra = {
        "SECUREBOX_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
        "SECUREBOX_MASTER_KEY_FILE": str(tmp_path / "master.key"),
        "SECUREBOX_DEMO": "true",
        **prepare(tmp_path),
    }
    lines = seed(extra, fast=True)
    assert any("05" in line and "/demo/outbox" in line for line in lines)
    assert any("05: recovery codes" in line for line in lines)
    sent = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert {m["to"] for m in sent} == {DEMO_PHONE, DEMO_EMAIL}
    box = build_securebox(load_settings(extra))
    found = box.factors.oob.destinations(Principal.parse("123456789", "05"))
    assert {(d.channel, d.destination) for d in found} == {
        (Channel.SMS, DEMO_PHONE),
        (Channel.EMAIL, DEMO_EMAIL),
    }
