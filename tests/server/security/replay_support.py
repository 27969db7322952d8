"""Two real server processes on one scratch PostgreSQL database, for the replay tests.

Each process is ``securebox serve --workers 1`` on its own loopback port, with the same
settings file and master key (so a session, a CSRF token or a flow started on one is valid on
the other, as behind a load balancer). A process is started in its own process group and
stopped by that group's id (:func:`tests.server.live.conftest._stop`); :meth:`Pair.restart`
stops one and starts it again on the same database. The library (:class:`Securebox` on the
same database and keys) seeds the users.

:func:`race` fires one request per process at the same instant (threads behind a barrier).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Final, TypeVar

import httpx

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.entitlements.model import Company, Invitation, Subscription, Theme
from securebox_auth.factors.certificate import Revocation, enrol_certificate
from securebox_auth.factors.oob import Channel, keyed_destination_key
from securebox_auth.factors.totp import code_at
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.factors.x509_trust import CrlCache, TrustSettings, add_crl
from securebox_auth.identity import Principal, Siren
from securebox_auth.shell.gateways import FileOutbox
from securebox_auth.shell.monotonic import MonotonicClock
from securebox_auth.shell.oob import ENROL_PURPOSE
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores import factor_codecs as fc
from securebox_auth.stores.protocols import PutSubscription
from securebox_auth.testing.pki import Issued, TestPki
from securebox_server.box.documents import DocumentStore
from securebox_server.box.model import DocumentType
from securebox_server.clients.service import ApiClients
from securebox_server.clients.wiring import build_clients
from securebox_server.demo_data import prepare
from securebox_server.settings import load_settings
from securebox_server.wiring import (
    build_documents,
    build_securebox,
    migrate_database,
    write_master_key,
)
from tests.server.clients.helpers import Registered, new_key
from tests.server.live.conftest import SOURCE, _free_port, _stop, _wait_ready, token
from tests.server.live.material import mail_server, sms_webhook
from tests.server.methods.conftest import Mailbox, SmsProvider
from tests.stores.conftest import scratch_postgres

CODE: Final = "47120938"
ISSUER_PASSPHRASE: Final = "replay issuer passphrase"
_ROUNDS: Final = os.environ.get("SECUREBOX_REPLAY_ROUNDS", "")
#: Rounds of each two-process race (``SECUREBOX_REPLAY_ROUNDS``, default 2: ~0.5 s each).
ROUNDS: Final = max(1, int(_ROUNDS or "2"))
#: Restarts in the restart test (``SECUREBOX_REPLAY_ROUNDS``, default 1: ~5 s each).
RESTARTS: Final = max(1, int(_ROUNDS or "1"))

LINK: Final = re.compile(r"https?://\S+/recovery/link/([A-Za-z0-9_-]+)")
NO_KEEP_ALIVE: Final = httpx.Limits(max_keepalive_connections=0)
#: The sender of the ingestion API and its one document type (no retention, 30 days).
SENDER: Final = "replay-sender"
STATEMENT: Final = DocumentType(
    SENDER, "statement", "Statement", Theme("statements"), 30, 5, "none", 0
)

T = TypeVar("T")


@dataclass
class Pair:
    """Two server processes (``0`` and ``1``) on one database."""

    home: Path
    settings_file: Path
    box: Securebox
    ports: list[int]
    mailbox: Mailbox
    sms: SmsProvider
    #: The test PKI whose root and CRLs the servers trust (certificate login).
    pki: TestPki
    documents: DocumentStore
    clients: ApiClients
    sender: Registered
    processes: list[subprocess.Popen[bytes] | None] = field(default_factory=lambda: [None, None])
    _next_address: int = 1
    _next_client: int = 810_000_000

    @property
    def public_url(self) -> str:
        return f"http://localhost:{self.ports[0]}"

    def base(self, which: int) -> str:
        return f"http://127.0.0.1:{self.ports[which]}"

    def start(self, which: int, *, wait: bool = True) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")]),
        }
        command = [sys.executable, "-m", "securebox_auth.cli", "serve", "--workers", "1"]
        command += ["--port", str(self.ports[which]), "--settings", str(self.settings_file)]
        process = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
        self.processes[which] = process
        if wait:
            _wait_ready(self.base(which), process, 60)

    def stop(self, which: int) -> None:
        """SIGTERM to the process group (by its id), then wait until no process of the group
        is left (a worker outliving the CLI would still answer on the port, and the next
        process could not bind it); SIGKILL to the group after 15 s."""
        process = self.processes[which]
        if process is None:
            return
        _stop(process)
        self.processes[which] = None
        deadline = time.monotonic() + 15
        try:
            while True:
                os.killpg(process.pid, 0)  # raises once the group is empty
                if time.monotonic() > deadline:
                    os.killpg(process.pid, signal.SIGKILL)
                time.sleep(0.05)
        except ProcessLookupError:
            pass

    def restart(self, which: int) -> None:
        """Stop the process by its group id, then start a new one on the same database."""
        old = self.processes[which]
        self.stop(which)
        self.start(which)
        assert old is None or self.processes[which] is not old

    def browser(self, which: int) -> httpx.Client:
        """A browser at a new address of its own (``X-Forwarded-For``, trusted proxy), so
        the rate limits of one round do not touch another's; without keep-alive (a new
        connection a request), so a stopping process has no idle connection to wait for."""
        self._next_address += 1
        address = f"203.0.{self._next_address // 250}.{self._next_address % 250 + 1}"
        return httpx.Client(
            base_url=self.base(which),
            headers={"X-Forwarded-For": address, "Accept-Language": "en"},
            limits=NO_KEEP_ALIVE,
            timeout=30,
        )

    def api(self, which: int) -> httpx.Client:
        """An API client of process ``which`` (no keep-alive)."""
        return httpx.Client(base_url=self.base(which), limits=NO_KEEP_ALIVE, timeout=30)

    def mailed_link(self, to: str) -> str:
        """The token of the last recovery link mailed to ``to`` (the mail leaves on the
        server's dispatcher thread: waited for, 10 s at most)."""
        deadline = time.monotonic() + 10
        while True:
            for envelope in reversed(self.mailbox.received):
                if to in envelope.rcpt_tos and isinstance(envelope.content, bytes):
                    mail = message_from_bytes(envelope.content, policy=default)
                    body = mail.get_body(("plain",))
                    found = LINK.search(str(body.get_content() if body else ""))
                    assert found is not None, envelope.content
                    return found.group(1)
            assert time.monotonic() < deadline, f"no mail to {to}"
            time.sleep(0.05)

    def twin(self, browser: httpx.Client, which: int) -> httpx.Client:
        """The same browser (its cookies, its address) talking to process ``which``."""
        twin = httpx.Client(
            base_url=self.base(which),
            headers=dict(browser.headers),
            limits=NO_KEEP_ALIVE,
            timeout=30,
        )
        for cookie in browser.cookies.jar:
            twin.cookies.set(cookie.name, cookie.value or "", domain=cookie.domain)
        return twin

    def user(
        self, *, totp: bool = False, strong_at: datetime | None = None
    ) -> tuple[Principal, TotpCredential | None]:
        """A new subscription's principal user whose code is :data:`CODE`; its TOTP
        credential (enrolled and confirmed at the current step) or None; its last strong
        authentication ``strong_at`` (default: now)."""
        box = self.box
        self._next_client += 1
        principal = Principal.parse(f"{self._next_client:09d}", "01")
        letter = box.codes.create_subscription(Operator("back-office"), principal)
        client, user = principal.client_id.value, principal.user_number.value
        assert box.codes.change_code(client, user, letter.reveal(), CODE).changed
        credential = None
        if totp:
            enrolled = box.enrol_first_totp(Operator("back-office"), principal)
            assert box.confirm_totp(principal, code_at(enrolled.credential, box.clock.now()))
            credential = enrolled.credential
        when = strong_at or box.clock.now()
        box.store.commit([box.factors.renewal_change(principal, "web", when)], [])
        return principal, credential

    def enrol_destination(self, principal: Principal, channel: Channel, to: str) -> None:
        """A verified SMS or e-mail destination, the library's way (a code sent there came
        back), on a clock two hours back so that the hourly send throttle leaves the login's
        send alone (as :mod:`tests.server.live.test_live_methods` does)."""
        earlier = FixedClock(self.box.clock.now() - timedelta(hours=2))
        settings = load_settings({}, self.settings_file)
        # Its own mark: the shared one (ADR 0042) would hold this clock at the servers' time.
        box = build_securebox(settings, clock=MonotonicClock(earlier), argon2=PROFILE_TESTING)
        try:
            oob = box.factors.oob
            issued = oob.issue(
                principal, channel=channel, destination=to, purpose=ENROL_PURPOSE,
                reference=keyed_destination_key(oob.keys, channel, to),
                gateway=FileOutbox(self.home / "enrolment.jsonl"), code="246810",
            )  # fmt: skip
            assert issued.challenge is not None
            done = oob.confirm_destination(
                principal, issued.challenge.id, "246810", channel=channel, destination=to
            )
            assert done.ok
        finally:
            box.store.engine.dispose()  # type: ignore[attr-defined]

    def last_code(self, channel: Channel, to: str) -> str:
        if channel is Channel.EMAIL:
            return self.mailbox.last_code(to)
        return self.sms.last_code(to)

    def certificate(self, principal: Principal) -> Issued:
        """A certificate of the test PKI (its private key) enrolled for ``principal``."""
        pki, now = self.pki, datetime.now(UTC)
        issued = pki.issue(f"replay {principal.key}")
        crls = add_crl(CrlCache(), pki.crl(), pki.intermediate.cert, now=now)
        crls = add_crl(crls, pki.crl(issuer=pki.root), pki.root.cert, now=now)
        credential, _ = enrol_certificate(
            principal, issued.pem, intermediates=[pki.intermediate.pem],
            trust=TrustSettings(anchors=(pki.root.cert,)), revocation=Revocation(crls=crls),
            now=now,
        )  # fmt: skip
        self.box.factors.put_state(
            principal, fc.CERTIFICATE, "default", fc.cert_credential_to_dict(credential)
        )
        return issued

    def company(self, principal: Principal, siren: Siren) -> None:
        """Company ``siren`` added to the subscription of ``principal`` (digital)."""
        found = self.box.store.get_subscription(principal.client_id)
        assert found is not None
        companies = {**found.value.companies, siren: Company(siren, "Replay", self.box.clock.now())}
        self._subscription(principal, replace(found.value, companies=companies))

    def invite(self, principal: Principal, invitation: Invitation) -> None:
        """``invitation`` added to the subscription of ``principal`` (as a declaration)."""
        found = self.box.store.get_subscription(principal.client_id)
        assert found is not None
        invitations = {**found.value.invitations, invitation.id: invitation}
        self._subscription(principal, replace(found.value, invitations=invitations))

    def _subscription(self, principal: Principal, subscription: Subscription) -> None:
        found = self.box.store.get_subscription(principal.client_id)
        assert found is not None
        put = PutSubscription(principal.client_id, found.version, subscription)
        self.box.store.commit([put], [])

    def overdue(self, **kwargs: bool) -> tuple[Principal, TotpCredential | None]:
        """A user whose last strong login is 91 days old: a code login asks a second
        factor (``/login/strong``)."""
        return self.user(strong_at=self.box.clock.now() - timedelta(days=91), **kwargs)


@contextmanager
def pair_of_servers(admin_url: str, home: Path) -> Iterator[Pair]:
    with ExitStack() as stack:
        url = stack.enter_context(scratch_postgres(admin_url))
        smtp_port, mailbox = stack.enter_context(mail_server())
        sms = stack.enter_context(sms_webhook())
        key = home / "master.key"
        write_master_key(key)
        ports = [_free_port(), _free_port()]
        # dated 3 hours back: its CRLs are current for the library on the clock of
        # enrol_destination (2 hours back) as for the servers
        pki = TestPki(datetime.now(UTC) - timedelta(hours=3))
        anchors, crl_files = home / "anchors.pem", [home / "int.crl", home / "root.crl"]
        anchors.write_bytes(pki.root.pem + pki.intermediate.pem)
        crl_files[0].write_bytes(pki.crl())
        crl_files[1].write_bytes(pki.crl(issuer=pki.root))
        issuer = home / "issuer-keys.json"
        SoftwareIssuerKeys.generate().save(issuer, ISSUER_PASSPHRASE, scrypt_n=2**10)
        settings_file = home / "settings.toml"
        lines = [
            f'database_url = "{url}"',
            f'master_key_file = "{key}"',
            f'public_url = "http://localhost:{ports[0]}"',
            'trusted_proxies = ["127.0.0.1"]',
            f'policy = "{prepare(home)["SECUREBOX_POLICY"]}"',  # + codes by SMS and e-mail
            f'smtp_url = "smtp+plain://127.0.0.1:{smtp_port}?from=no-reply@bank.example"',
            f'sms_url = "{sms.url}"',
            f'cap_issuer_file = "{issuer}"',
            f'cap_issuer_passphrase = "{ISSUER_PASSPHRASE}"',
            f'certificate_anchors = "{anchors}"',
            f'certificate_crls = ["{crl_files[0]}", "{crl_files[1]}"]',
        ]
        settings_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        settings = load_settings({}, settings_file)
        migrate_database(settings.database_url)
        box = build_securebox(settings, argon2=PROFILE_TESTING)
        documents, clients = build_documents(settings, box), build_clients(settings, box)
        assert documents is not None
        assert clients is not None
        documents.define_type(STATEMENT)
        signing, jwks = new_key("ES256")
        made = clients.add_sender(SENDER, "Replay sender", jwks=jwks)
        sender = Registered(made, signing, "ES256", jwks["keys"][0]["kid"])
        pair = Pair(home, settings_file, box, ports, mailbox, sms, pki, documents, clients, sender)
        try:
            pair.start(0, wait=False)
            pair.start(1, wait=False)
            for which, process in enumerate(pair.processes):
                assert process is not None
                _wait_ready(pair.base(which), process, 60)
            yield pair
        finally:
            pair.stop(0)
            pair.stop(1)
            documents.engine.dispose()
            clients.store.engine.dispose()
            box.store.engine.dispose()  # type: ignore[attr-defined]


def luhn_siren(number: int) -> Siren:
    """A SIREN (8 digits of ``number`` and the Luhn check digit)."""
    digits = f"{number % 10**8:08d}"
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return Siren(digits + str(-total % 10))


def race(*calls: Callable[[], T]) -> list[T]:
    """Run the calls at the same instant (one thread each, released by a barrier); their
    results in order (an exception in a call is raised here)."""
    barrier = threading.Barrier(len(calls))
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as error:  # re-raised in the caller's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def start_login(browser: httpx.Client, principal: Principal) -> None:
    page = browser.get("/login")
    client = principal.client_id.value
    page = browser.post("/login", data={"client_id": client, "csrf_token": token(page.text)})
    assert page.status_code == 200, page.text
    answer = browser.post(
        "/login/user",
        data={"client_id": client, "user_number": principal.user_number.value,
              "csrf_token": token(page.text)},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303, answer.text


def form_of(browser: httpx.Client, path: str) -> str:
    """The CSRF token of the form at ``path`` (asserting the page opens)."""
    page = browser.get(path)
    assert page.status_code == 200, page.text
    return token(page.text)


def post(browser: httpx.Client, path: str, csrf: str, **fields: str) -> httpx.Response:
    return browser.post(path, data={**fields, "csrf_token": csrf}, follow_redirects=False)


def code_then_strong(browser: httpx.Client, principal: Principal) -> None:
    """Identify, type :data:`CODE`: the 90-day prompt asks a second factor."""
    start_login(browser, principal)
    asked = post(browser, "/login/code", form_of(browser, "/login/code"), code=CODE)
    assert asked.headers.get("location") == "/login/strong", asked.text


__all__ = [
    "CODE",
    "RESTARTS",
    "ROUNDS",
    "SENDER",
    "STATEMENT",
    "Pair",
    "code_then_strong",
    "form_of",
    "luhn_siren",
    "pair_of_servers",
    "post",
    "race",
    "start_login",
]
