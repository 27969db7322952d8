"""The real app on SQLite with a real SMTP relay (aiosmtpd) and SMS provider (the jobs
tests' fixtures), a user with a verified e-mail address and mobile and a company."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import securebox_auth
from securebox_auth.clock import FixedClock
from securebox_auth.entitlements.model import Company
from securebox_auth.factors.oob import Channel
from securebox_auth.identity import Principal, Siren
from securebox_auth.shell.gateways import FileOutbox
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.protocols import PutSubscription
from securebox_server.recovery.service import RecoveryService
from tests.server.conftest import AppMaker, open_user
from tests.server.jobs.conftest import (  # noqa: F401 (fixtures, found by name)
    SMS_TOKEN,
    SmsProvider,
    SmtpRelay,
    jobs_url,
    sms_hook,
    smtp_relay,
    verify,
)
from tests.server.rate_limits.conftest import (  # noqa: F401 (fixtures, found by name)
    server_postgres_url,
    server_sqlite_url,
)
from tests.stores.conftest import (  # noqa: F401 (fixtures, found by name)
    postgres_admin_url,
    sqlite_template,
)

EMAIL = "alice@example.org"
MOBILE = "+33612345678"
SIREN = "732829320"


@dataclass
class Rig:
    client: TestClient
    box: Securebox
    clock: FixedClock
    principal: Principal
    smtp: SmtpRelay
    sms: SmsProvider

    @property
    def recovery(self) -> RecoveryService:
        found: RecoveryService = self.client.app.state.recovery  # type: ignore[attr-defined]
        return found

    def drain(self) -> None:
        self.recovery.dispatcher.drain()


@pytest.fixture
def rig(
    make_app: AppMaker,
    smtp_relay: SmtpRelay,  # noqa: F811
    sms_hook: SmsProvider,  # noqa: F811
    tmp_path: Path,
) -> Rig:
    return _rig(make_app, smtp_relay, sms_hook, tmp_path)


def _rig(
    make_app: AppMaker,
    relay: SmtpRelay,
    sms: SmsProvider,
    tmp_path: Path,
    **settings: Any,
) -> Rig:
    client, box, clock = make_app(
        **settings,
        smtp_url=f"smtp+plain://127.0.0.1:{relay.port}?from=box@bank.example",
        sms_url=sms.url.replace("http://", f"http://{SMS_TOKEN}@"),
    )
    principal, _ = open_user(box)
    outbox = FileOutbox(tmp_path / "enrol.jsonl")
    verify(box, clock, outbox, principal, Channel.EMAIL, EMAIL)
    verify(box, clock, outbox, principal, Channel.SMS, MOBILE)
    found = box.store.get_subscription(principal.client_id)
    assert found is not None
    company = Company(Siren(SIREN), "ACME", datetime.now().astimezone())
    held = replace(found.value, companies={Siren(SIREN): company})
    box.store.commit([PutSubscription(principal.client_id, found.version, held)], [])
    return Rig(client, box, clock, principal, relay, sms)


@pytest.fixture
def questions_rig(
    make_app: AppMaker,
    smtp_relay: SmtpRelay,  # noqa: F811
    sms_hook: SmsProvider,  # noqa: F811
    tmp_path: Path,
) -> Rig:
    """The rig under a policy that allows secret questions."""
    return _rig(make_app, smtp_relay, sms_hook, tmp_path, policy=questions_policy(tmp_path))


def questions_policy(tmp_path: Path) -> Path:
    """The shipped policy with secret questions allowed, written under ``tmp_path``."""
    shipped = Path(securebox_auth.__file__).parent / "policies" / "psd2-default.toml"
    text = shipped.read_text("utf-8").replace("secret_questions = false", "secret_questions = true")
    policy = tmp_path / "questions.toml"
    policy.write_text(text, "utf-8")
    return policy


#: the user's name and secret answers (question id: answer) in :func:`answered_rig`
QUESTION_NAME = "Martin"
QUESTION_ANSWERS = {"first_school": "École Jean Jaurès", "childhood_street": "rue des Lilas"}


def answered_rig(
    make_app: AppMaker, relay: SmtpRelay, sms: SmsProvider, tmp_path: Path, **settings: Any
) -> Rig:
    """The rig with secret questions allowed by policy and the user's answers set."""
    policy = questions_policy(tmp_path)
    found = _rig(make_app, relay, sms, tmp_path, policy=policy, **settings)
    found.recovery.accounts.set_answers(found.principal, QUESTION_NAME, QUESTION_ANSWERS)
    return found
