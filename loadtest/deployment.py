"""One deployment under load: a database (a SQLite file or a scratch PostgreSQL database,
holding the bulk documents of :mod:`.million`), its world (users whose 90-day rule is met,
users whose 90-day rule is due and who hold a TOTP seed, users holding a passkey for the
payee step-up, a sender, documents) and a real
``securebox serve --workers N`` started with the end-to-end tests' :class:`Processes`
(without their settable clock: the server tells the real time), stopped by its pid.

The argon2id profile is the shipped ``PROFILE_2026`` (the codes are hashed with it, so a
login verifies at the server's real cost). The rate limits are on (the database limiter)
with the request limits raised so that one load client on one address is not refused:
what they cost is measured, not what they refuse. The public URL is
``http://localhost:PORT`` (the server listens on 127.0.0.1): WebAuthn relying party ids are
domain names, so the passkeys of the payee step-up need it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select, text
from tests.server.box.conftest import C1, C2, PAYROLL, STATEMENTS, TAX
from tests.server.box.e2e.processes import Processes, free_port
from tests.server.box.e2e.world import CODE, SENDER, STATEMENT, sender_token
from tests.server.box.e2e.world import publish as posted
from tests.server.boxes import enrol_passkey
from tests.server.clients.helpers import Registered, bearer, new_key

from loadtest.million import body_of, split
from securebox_auth import PROFILE_2026, Operator, Principal
from securebox_auth.audit import GLOBAL, AuditEvent
from securebox_auth.clock import FixedClock, SystemClock
from securebox_auth.entitlements.model import Company, Subscription
from securebox_auth.factors.totp import TotpCredential, code_at
from securebox_auth.identity import Siren
from securebox_auth.shell.audit_chains import anchor_chains
from securebox_auth.shell.audit_checkpoint import FileCheckpoints, take_checkpoint
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.protocols import PutSubscription
from securebox_auth.stores.sql.schema import AUDIT_EVENTS, SESSIONS
from securebox_auth.testing.authenticator import SoftAuthenticator
from securebox_server.box.documents import DocumentStore
from securebox_server.clients.wiring import build_clients
from securebox_server.db.schema import BOX_DOCUMENTS, BOX_NOTIFICATIONS
from securebox_server.settings import load_settings
from securebox_server.wiring import (
    build_documents,
    build_securebox,
    load_master_key,
    migrate_database,
    relying_party,
    write_master_key,
)

__all__ = [
    "CODE",
    "Deployment",
    "Payer",
    "SecondFactorUser",
    "World",
    "audit_count",
    "deployment",
    "documents_count",
    "notifications_count",
    "sessions_count",
    "sizes",
    "totp_code",
]

#: Every request limit the mixes meet, raised (ADR 0026 names).
RAISED: Final = (
    "login.global",
    "login.source",
    "login.account",
    "default.source",
    "default.account",
    "api.documents",
    "api.sender",
    "api.sender.batch",
    "api.receiver",
    "oauth.token.source",
    "oauth.token.account",
    "second_factor.account",
    "stepup.start",
    "stepup.proof",
    "stepup.execute",
)
#: The subscription whose principal user reads the pages and downloads the documents.
READER_CLIENT: Final = "123456789"


class _Plain(Processes):
    """The end-to-end processes without the settable clock's hook (real time)."""

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.pop("SECUREBOX_TEST_CLOCK_FILE", None)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in env["PYTHONPATH"].split(os.pathsep) if not p.endswith("clockhook")
        )
        return env


@dataclass(frozen=True, slots=True)
class SecondFactorUser:
    """A user whose 90-day rule is due (no strong login yet: the login asks a second
    factor) with a confirmed TOTP seed; ``confirmed_step``: the time step its enrolment
    used (a later step must prove the login: replay protection)."""

    principal: Principal
    credential: TotpCredential
    confirmed_step: int


@dataclass
class Payer:
    """A logged-in user holding a passkey: the payee step-up's lane. ``token`` is the
    session's current token (the step-up rotates it)."""

    principal: Principal
    authenticator: SoftAuthenticator
    token: str


def totp_code(user: SecondFactorUser, now: datetime) -> str:
    """The code the user's application shows at ``now``; in the step of the enrolment (used
    already) the next step's code, which the server's window of one step accepts."""
    period = user.credential.period
    step = max(int(now.timestamp()) // period, user.confirmed_step + 1)
    return code_at(user.credential, datetime.fromtimestamp(step * period, UTC))


@dataclass
class World:
    """What the mixes use: login users, the reader's session tokens, document ids, the
    sender's access token."""

    users: list[Principal]
    sessions: list[str]
    documents: list[str]
    sender_token: str
    #: The receiver's (the reader's accounting software, company C1) access token.
    receiver_token: str
    #: Successful logins and acknowledged publications made while seeding.
    seeded_logins: int = 0
    seeded_documents: int = 0
    #: Fresh users for the second-factor logins (each logs in once: after a strong login
    #: the 90-day rule is met again and the code alone would do).
    second_factor: list[SecondFactorUser] = field(default_factory=list)
    payers: list[Payer] = field(default_factory=list)
    #: Documents written straight into the tables (:mod:`.million`), no notification.
    bulk_documents: int = 0
    #: The users told of each published document (the reader alone holds C1's statements).
    notified_per_document: int = 1
    #: The spread mixes' companies, one per subscription (:mod:`.ingest`), and the batch
    #: mixes' documents per batch.
    spread: list[Siren] = field(default_factory=list)
    batch: int = 1


@dataclass
class Deployment:
    kind: str
    base: str
    port: int
    workers: int
    box: Securebox
    store: DocumentStore
    processes: Processes
    home: Path
    server: subprocess.Popen[bytes] | None = None
    world: World | None = field(default=None)
    #: The static file server of the downloads' baseline (:mod:`loadtest.static`).
    static: subprocess.Popen[bytes] | None = None
    static_port: int = 0

    @property
    def url(self) -> str:
        return str(self.box.store.engine.url.render_as_string(hide_password=False))  # type: ignore[attr-defined]

    def server_pids(self) -> list[int]:
        assert self.server is not None
        return [
            self.server.pid,
            *_Plain.server_workers(self.server),
            Processes.uvicorn(self.server),
        ]

    def database_pids(self) -> list[int]:
        """The PostgreSQL backends serving this database (none for SQLite: in process)."""
        engine = self.box.store.engine  # type: ignore[attr-defined]
        if engine.dialect.name != "postgresql":
            return []
        query = text(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        with engine.connect() as conn:
            return [int(p) for p in conn.execute(query).scalars()]

    def audit_verify(self) -> str:
        """The audit chains anchored and checkpointed (the library's calls, what
        ``securebox audit anchor`` and ``checkpoint --all-tenants`` do), then
        ``securebox audit verify`` in a process of its own: its output; raises when it
        fails."""
        keys = load_master_key(load_settings({}, self.processes.settings))
        key_file = self.home / "audit.key"
        # every id of the master key: the trail verifies across rotations (ADR 0059)
        key_file.write_text(keys.audit_keyring().to_hex(), encoding="ascii")
        signing = Ed25519PrivateKey.generate()
        public = self.home / "checkpoint.pub"
        public.write_bytes(
            signing.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        )
        checkpoints = self.home / "checkpoints.jsonl"
        checkpoints.unlink(missing_ok=True)
        store, clock = self.box.store, SystemClock()
        anchor_chains(store, clock)
        sink = FileCheckpoints(checkpoints)
        for chain in [GLOBAL, *store.audit_tenants()]:
            take_checkpoint(store, sink, signing, clock, tenant=chain)
        database = ["--url", self.url, "--audit-key-file", str(key_file)]
        done = subprocess.run(  # noqa: S603 - our interpreter, our arguments
            [
                *(sys.executable, "-m", "securebox_auth.cli", "audit", "verify", *database),
                *("--checkpoint", str(checkpoints), "--public-key", str(public)),
            ],
            env=self.processes.environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"audit verify: {done.stdout}{done.stderr}")
        return done.stdout.strip()


def sessions_count(deployment: Deployment, *, live: bool = False) -> int:
    """Sessions in the store (``live``: those not ended; a step-up's rotation ends one and
    opens its successor)."""
    engine = deployment.box.store.engine  # type: ignore[attr-defined]
    query = select(func.count()).select_from(SESSIONS)
    if live:
        query = query.where(SESSIONS.c.ended.is_(False))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def documents_count(deployment: Deployment) -> int:
    with deployment.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(BOX_DOCUMENTS)).scalar_one())


def notifications_count(deployment: Deployment) -> int:
    """Rows of the notification outbox (sent or not)."""
    with deployment.store.engine.connect() as conn:
        found = conn.execute(select(func.count()).select_from(BOX_NOTIFICATIONS))
        return int(found.scalar_one())


def audit_count(deployment: Deployment, action: str) -> int:
    """Audit events of ``action`` (every chain)."""
    engine = deployment.box.store.engine  # type: ignore[attr-defined]
    query = select(func.count()).select_from(AUDIT_EVENTS).where(AUDIT_EVENTS.c.action == action)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _settings(url: str, home: Path, port: int) -> Path:
    key = home / "master.key"
    write_master_key(key)
    raised = "".join(f'"{name}" = "100000000/10 seconds"\n' for name in RAISED)
    path = home / "settings.toml"
    path.write_text(
        f'database_url = "{url}"\nmaster_key_file = "{key}"\n'
        f'public_url = "http://localhost:{port}"\n[rate_limits]\n{raised}',
        encoding="utf-8",
    )
    return path


def _user(box: Securebox, n: int, *, strong: bool = True) -> Principal:
    """A new subscription's principal user with the code; ``strong``: a strong login
    recorded now (the 90-day rule met: the code alone logs in)."""
    principal = Principal.parse(f"{800_000_000 + n:09d}", "01")
    letter = box.codes.create_subscription(Operator("load"), principal)
    assert box.codes.change_code(principal.client_id.value, "01", letter.reveal(), CODE).changed
    if strong:
        box.store.commit([box.factors.renewal_change(principal, "web", box.clock.now())], [])
    return principal


#: Where the second-factor users' and the payers' subscription numbers start.
_SECOND_FACTOR: Final = 10_000_000
_PAYERS: Final = 20_000_000


def _second_factor_user(box: Securebox, n: int) -> SecondFactorUser:
    """A user without a strong login (the 90-day rule due) holding a confirmed TOTP seed."""
    principal = _user(box, _SECOND_FACTOR + n, strong=False)
    credential = box.enrol_first_totp(Operator("load"), principal).credential
    now = box.clock.now()
    assert box.confirm_totp(principal, code_at(credential, now))
    return SecondFactorUser(principal, credential, int(now.timestamp()) // credential.period)


def _payer(deployment: Deployment, http: httpx.Client, n: int) -> Payer:
    """A user (90-day rule met) with a passkey, logged in."""
    box = deployment.box
    principal = _user(box, _PAYERS + n)
    rp = relying_party(load_settings({}, deployment.processes.settings))
    assert rp is not None, "no relying party: the public URL must name a host"
    authenticator = enrol_passkey(box, rp, principal, FixedClock(box.clock.now()))
    answer = login(http, principal)
    token = logged_in(answer)
    assert token is not None, f"a payer's login failed: {answer.status_code} {answer.text}"
    return Payer(principal, authenticator, token)


def _reader(box: Securebox) -> Principal:
    """The principal user of :data:`READER_CLIENT`, holding companies C1 and C2."""
    principal = _user(box, int(READER_CLIENT) - 800_000_000)
    found = box.store.get_subscription(principal.client_id)
    assert found is not None
    now = box.clock.now()
    companies = {C1: Company(C1, "ACME", now), C2: Company(C2, "ACME Services", now)}
    subscription = Subscription(
        principal.client_id, companies=companies, themes=frozenset({PAYROLL, TAX, STATEMENTS})
    )
    event = AuditEvent.make(now, "load.seed", actor="load", subject=READER_CLIENT, outcome="ok")
    box.store.commit([PutSubscription(principal.client_id, found.version, subscription)], [event])
    return principal


def login(http: httpx.Client, who: Principal) -> httpx.Response:
    """The code login through ``/api/v1/login/flows`` (two requests); the last answer."""
    started = http.post(
        "/api/v1/login/flows",
        json={"client_id": who.client_id.value, "user_number": who.user_number.value},
    )
    if started.status_code != 201:
        return started
    return http.post(
        f"/api/v1/login/flows/{started.json()['id']}/answers",
        json={"method": "confidential_code", "code": CODE},
    )


def logged_in(answer: httpx.Response) -> str | None:
    """The session token of a successful login's answer, else ``None``."""
    if answer.status_code != 200:
        return None
    body = answer.json()
    if body.get("state") != "done":
        return None
    token: str = body["session"]["token"]
    return token


def publish(http: httpx.Client, token: str, body: bytes, key: str) -> httpx.Response:
    """``POST /api/v1/sender/documents`` (the statement type, company C1, issued now)."""
    issued = datetime.now(UTC) - timedelta(minutes=1)
    return posted(http, token, body, key=key, issued_at=issued, timeout=120)


def published(answer: httpx.Response) -> bool:
    """A publication acknowledged with a document for its company."""
    return answer.status_code == 201 and answer.json()["results"][0]["status"] == "published"


def sizes(published: int) -> list[int]:
    """The published PDFs' sizes: 100 KB to 2 MB, evenly spread."""
    return [100_000 + (1_900_000 * n) // max(1, published - 1) for n in range(published)]


def _seed_world(
    deployment: Deployment,
    users: int,
    lanes: int,
    documents: int,
    second_factor: int,
    payers: int,
) -> World:
    box, base = deployment.box, deployment.base
    count, bulk = split(documents)
    with ThreadPoolExecutor(max(2, deployment.workers)) as pool:  # argon2id frees the GIL
        people = list(pool.map(lambda n: _user(box, n), range(users)))
        twofold = list(pool.map(lambda n: _second_factor_user(box, n), range(second_factor)))
    reader = _reader(box)
    store = deployment.store
    store.define_type(STATEMENT)
    key, jwks = new_key("ES256")
    clients = build_clients(load_settings({}, deployment.processes.settings), box)
    assert clients is not None
    sender = Registered(
        clients.add_sender(SENDER, "Back office", jwks=jwks), key, "ES256", jwks["keys"][0]["kid"]
    )
    key, jwks = new_key("ES256")
    made = clients.add_receiver(Operator("load"), reader.client_id, [C1], "Software", jwks=jwks)
    receiver = Registered(made, key, "ES256", jwks["keys"][0]["kid"])
    clients.store.engine.dispose()
    with httpx.Client(base_url=base, timeout=120) as http:
        public = f"http://localhost:{deployment.port}"  # the token endpoint's audience
        token = sender_token(http, sender, box.clock, public)
        receiving = sender_token(http, receiver, box.clock, public)  # the same grant
        ids = []
        for n, size in enumerate(sizes(count)):
            answer = publish(http, token, body_of(n, size), f"seed-{n}")
            assert published(answer), answer.text
            ids.append(str(answer.json()["results"][0]["document_id"]))
        sessions = []
        for _ in range(lanes):
            session = logged_in(login(http, reader))
            assert session is not None, "the reader's login failed"
            sessions.append(session)
        # every worker's first pages (templates compiled, caches filled) before the timing
        for n in range(2 * deployment.workers):
            http.cookies.set(deployment_cookie(), sessions[n % lanes])
            for path in ("/home", "/documents?label=Statement", "/healthz"):
                assert http.get(path).status_code == 200, path
            got = http.get(f"/api/v1/documents/{ids[0]}/content", headers=bearer(sessions[0]))
            assert got.status_code == 200, got.text
    with httpx.Client(base_url=base, timeout=120) as http:  # no cookie: no CSRF check
        passkeys = [_payer(deployment, http, n) for n in range(payers)]
    return World(
        people,
        sessions,
        ids,
        token,
        receiving,
        lanes + payers,
        count,
        second_factor=twofold,
        payers=passkeys,
        bulk_documents=bulk,
    )


def deployment_cookie() -> str:
    from securebox_server.web.cookies import CookieNames  # noqa: PLC0415

    return CookieNames(secure=False).session


@contextlib.contextmanager
def deployment(
    url: str,
    home: Path,
    *,
    workers: int,
    users: int,
    lanes: int,
    documents: int,
    second_factor: int = 0,
    payers: int = 0,
) -> Iterator[Deployment]:
    """A migrated, seeded database and its server (started, then stopped by pid)."""
    port = free_port()
    settings_file = _settings(url, home, port)
    settings = load_settings({}, settings_file)
    migrate_database(url)
    box = build_securebox(settings, argon2=PROFILE_2026)
    store = build_documents(settings, box)
    assert store is not None
    processes = _Plain(settings_file, home / "no-clock", home)
    made = Deployment(
        url.split(":", maxsplit=1)[0],
        f"http://127.0.0.1:{port}",
        port,
        workers,
        box,
        store,
        processes,
        home,
    )
    try:
        made.server = processes.serve(port, workers)
        made.world = _seed_world(made, users, lanes, documents, second_factor, payers)
        yield made
    finally:
        processes.close()
        store.engine.dispose()
        box.store.engine.dispose()  # type: ignore[attr-defined]
