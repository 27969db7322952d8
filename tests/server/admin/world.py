"""The real app on each database (SQLite, PostgreSQL) with the box's world (a subscription
with a principal user, an administrator, a collaborator; a third party who accepted, one
pending), a real SMTP server (aiosmtpd) and SMS webhook on loopback, and helpers that walk
the pages like a browser: log in, enter a form, prove the step-up, confirm."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Final

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.emv.issuer import IssuerKeyProvider
from securebox_auth.entitlements.accounts import Operator, Role
from securebox_auth.factors.totp import code_at
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.identity import Principal, Siren
from securebox_auth.policy.model import Policy
from securebox_auth.shell.answers import CertificateSettings
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.stores.sql.catalogue import SqlCatalogue
from securebox_server.app import create_app
from securebox_server.box.blobs import DatabaseBlobs
from securebox_server.box.documents import DocumentStore
from securebox_server.box.model import Draft
from securebox_server.delivery import build_gateways
from securebox_server.settings import DEFAULT_POLICY, Settings
from securebox_server.wiring import relying_party
from tests.server.box.conftest import (  # noqa: F401 (fixtures, found by name)
    ACCOUNTANT,
    ADMIN,
    C1,
    C2,
    CLIENT,
    COLLABORATOR,
    OTHER,
    PAYSLIP,
    PRINCIPAL,
    SENDER,
    T0,
    box_url,
    sample_upload,
    seed_world,
    who,
)
from tests.server.conftest import CODE, token
from tests.server.jobs.conftest import (  # noqa: F401 (fixtures, found by name)
    SMS_TOKEN,
    SmsProvider,
    SmtpRelay,
    sms_hook,
    smtp_relay,
)
from tests.server.rate_limits.conftest import (  # noqa: F401 (fixtures, found by name)
    server_postgres_url,
    server_sqlite_url,
)
from tests.stores.conftest import (  # noqa: F401 (fixtures, found by name)
    empty_postgresql,
    postgres_admin_url,
    sqlite_template,
)

ORIGIN: Final = "https://bank.example"
ORDER: Final = re.compile(r"/operations/([A-Za-z0-9_-]+)")
LINK: Final = re.compile(re.escape(ORIGIN) + r"(/invitations/[A-Za-z0-9_-]+)")
#: a user of the other subscription with no invitation yet
NEWCOMER: Final = who(OTHER, "03")
BACK_OFFICE: Final = Operator("back-office")
#: the address a ``TestClient`` connects from by default
TESTCLIENT: Final = ("testclient", 50000)


@dataclass
class Admin:
    """The app, its library, the relay and the SMS webhook; one browser per user."""

    box: Securebox
    clock: FixedClock
    app: Any
    documents: DocumentStore
    smtp: SmtpRelay
    sms: SmsProvider
    kind: str
    browsers: list[TestClient] = field(default_factory=list)
    published: int = 0
    totp: dict[Principal, TotpCredential] = field(default_factory=dict)
    users: dict[int, Principal] = field(default_factory=dict)
    #: the address the browsers connect from
    peer: tuple[str, int] = TESTCLIENT

    def browser(self) -> TestClient:
        client = TestClient(
            self.app, base_url=ORIGIN, raise_server_exceptions=False, client=self.peer
        )
        client.headers["Accept-Language"] = "en"
        self.browsers.append(client)
        return client

    def login(self, principal: Principal, code: str = CODE) -> TestClient:
        client = self.identify(principal)
        page = client.get("/login/code")
        done = client.post(
            "/login/code",
            data={"code": code, "csrf_token": token(page.text)},
            follow_redirects=False,
        )
        assert done.headers.get("location") == "/home", done.text
        self.users[id(client)] = principal
        return client

    def identify(self, principal: Principal) -> TestClient:
        """A browser in the middle of ``principal``'s login (nothing proved yet)."""
        client = self.browser()
        page = client.get("/login")
        page = client.post(
            "/login",
            data={"client_id": principal.client_id.value, "csrf_token": token(page.text)},
        )
        sent = client.post(
            "/login/user",
            data={
                "client_id": principal.client_id.value,
                "user_number": principal.user_number.value,
                "csrf_token": token(page.text),
            },
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text
        return client

    def api(self, browser: TestClient) -> TestClient:
        """A JSON client with the browser's session as a bearer token (no cookie)."""
        session = browser.cookies.get(self.app.state.server.cookies.session)
        client = self.browser()
        client.headers["Authorization"] = f"Bearer {session}"
        self.users[id(client)] = self.users[id(browser)]
        return client

    def enrol_totp(self, principal: Principal) -> None:
        enrolled = self.box.enrol_first_totp(BACK_OFFICE, principal)
        assert self.box.confirm_totp(principal, code_at(enrolled.credential, self.clock.now()))
        self.totp[principal] = enrolled.credential

    def post(self, client: TestClient, form: str, path: str, data: dict[str, Any]) -> Response:
        """Post ``data`` to ``path`` with the CSRF token of the page ``form``."""
        page = client.get(form)
        assert page.status_code == 200, page.text
        data = {**data, "csrf_token": token(page.text)}
        sent: Response = client.post(path, data=data, follow_redirects=False)
        return sent

    def approve(self, client: TestClient, started: Response, proof: str = "") -> Response:
        """Prove the step-up of the order ``started`` redirected to (the user's TOTP) and
        confirm it; the confirmation's answer."""
        assert started.status_code == 303, started.text
        found = ORDER.fullmatch(started.headers["location"])
        assert found is not None, started.headers["location"]
        order = found.group(1)
        page = client.get(f"/operations/{order}")
        if f"/operations/{order}/execute" not in page.text:  # no fresh proof: the TOTP
            page = client.get(f"/operations/{order}/proof/totp")
            assert page.status_code == 200, page.text
            self.clock.advance(timedelta(seconds=30))
            code = code_at(self.totp[self.users[id(client)]], self.clock.now())
            proved = client.post(
                f"/operations/{order}/proof/totp",
                data={"code": code, "csrf_token": token(page.text)},
                follow_redirects=False,
            )
            assert proved.status_code == 303, proved.text
        page = client.get(f"/operations/{order}")
        data = {"csrf_token": token(page.text)}
        if proof:
            data["proof"] = proof
        done: Response = client.post(f"/operations/{order}/execute", data=data)
        return done

    def proof_of(self, siren: Siren) -> str:
        """The certification secret printed on the insurer's letter for ``siren``."""
        proofs: Any = self.box.entitlements.company_proofs
        secret: str = proofs.issue(siren)
        return secret

    def publish(self, company: Siren) -> str:
        self.published += 1
        n = self.published
        draft = Draft(
            type="payslip",
            label=f"Payslip {n}",
            issued_at=self.clock.now() - timedelta(days=1),
            upload=sample_upload(f"Payslip {n}", n),
        )
        made = self.documents.publish(SENDER, draft, [company], idempotency_key=f"admin-{n}")
        return made.document_ids[0]

    def mails(self) -> list[EmailMessage]:
        return self.smtp.relay.messages()

    def link(self, mail: EmailMessage) -> str:
        body = mail.get_body(("plain",))
        assert body is not None
        found = LINK.search(body.get_content())
        assert found is not None, body.get_content()
        return found.group(1)


def with_code(box: Securebox, principal: Principal) -> None:
    """``principal`` gets the code :data:`CODE`, a recent strong login (the renewal)."""
    letter = box.codes.regenerate_code(BACK_OFFICE, principal)
    clock = box.clock
    assert isinstance(clock, FixedClock)  # the worlds' clock
    clock.advance(timedelta(milliseconds=1))  # the reissue ended the sessions at its instant
    user = principal.user_number.value
    assert box.codes.change_code(principal.client_id.value, user, letter.reveal(), CODE).changed
    box.store.commit([box.factors.renewal_change(principal, "web", box.clock.now())], [])


@dataclass(frozen=True)
class Equipment:
    """What a module's world has beyond the default one (its ``equipment`` fixture): a
    policy, more settings, passkeys (the public URL's relying party), a CAP issuer,
    certificate anchors, the address the browsers connect from, and users or factors
    ``seed`` adds once the world is set up."""

    policy: Policy | Path = DEFAULT_POLICY
    settings: Mapping[str, Any] = field(default_factory=dict)
    passkeys: bool = False
    cap_issuer: IssuerKeyProvider | None = None
    certificates: CertificateSettings | None = None
    peer: tuple[str, int] = TESTCLIENT
    seed: Callable[[Admin], None] | None = None


def _equipment(request: pytest.FixtureRequest) -> Equipment:
    """The module's ``equipment`` fixture, if it has one (the modules that import
    :func:`admin` need not define it), else none."""
    try:
        found: Equipment = request.getfixturevalue("equipment")
    except pytest.FixtureLookupError:
        return Equipment()
    return found


@pytest.fixture
def admin(
    box_url: str,  # noqa: F811
    smtp_relay: SmtpRelay,  # noqa: F811
    sms_hook: SmsProvider,  # noqa: F811
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Admin]:
    equipment = _equipment(request)
    keys, clock = DerivedKeys.generate(), FixedClock(T0)
    smtp_url = f"smtp+plain://127.0.0.1:{smtp_relay.port}?from=box@bank.example"
    sms_url = sms_hook.url.replace("http://", f"http://{SMS_TOKEN}@")
    settings = Settings(
        database_url=box_url,
        public_url=ORIGIN,
        demo=True,
        rate_limits_enabled=False,
        smtp_url=smtp_url,
        sms_url=sms_url,
        code_letters_dir=tmp_path / "letters",
    )
    settings = replace(settings, **equipment.settings)
    store = open_sql_store(box_url, audit_keys=keys.audit_keyring(), migrate=False)
    box = Securebox.from_policy(
        equipment.policy,
        store=store,
        keys=keys,
        clock=clock,
        argon2=PROFILE_TESTING,
        gateways=build_gateways(smtp_url, sms_url, None),
        relying_party=relying_party(settings) if equipment.passkeys else None,
        cap_issuer=equipment.cap_issuer,
        certificates=equipment.certificates,
    )
    seed_world(box)
    box.codes.create_account(BACK_OFFICE, NEWCOMER, Role.USER)
    for principal in (PRINCIPAL, ADMIN, COLLABORATOR, ACCOUNTANT, NEWCOMER):
        with_code(box, principal)
    documents = DocumentStore(
        store.engine, box, DatabaseBlobs(store.engine), SqlCatalogue(store.engine)
    )
    documents.define_type(PAYSLIP)
    app = create_app(settings, securebox=box, keys=keys)
    world = Admin(box, clock, app, documents, smtp_relay, sms_hook, store.engine.dialect.name)
    world.peer = equipment.peer
    for principal in (PRINCIPAL, ADMIN, COLLABORATOR, ACCOUNTANT, NEWCOMER):
        world.enrol_totp(principal)
    if equipment.seed is not None:
        equipment.seed(world)
    try:
        yield world
    finally:
        for client in world.browsers:
            client.close()
        app.state.orders.engine.dispose()  # the server's engine (stepup.install)
        server = app.state.server
        for part in (server.documents, server.clients, server.reader):
            engine = getattr(part, "engine", None)
            if engine is not None:
                engine.dispose()
        store.engine.dispose()


__all__ = [
    "ACCOUNTANT",
    "ADMIN",
    "BACK_OFFICE",
    "C1",
    "C2",
    "CLIENT",
    "COLLABORATOR",
    "NEWCOMER",
    "OTHER",
    "PRINCIPAL",
    "Equipment",
    "with_code",
]
