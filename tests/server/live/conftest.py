"""A real ``securebox serve --workers 3`` on a scratch PostgreSQL database, on loopback.

The fixture creates the database, a master key and a settings file (the loopback address is
the trusted proxy, so each test picks its client address with ``X-Forwarded-For`` and the
rate limits of one test do not touch another's), seeds users with the library on the same
database and keys, starts the server as its own process group, waits for ``/readyz``, and
stops the group by its id at the end.

The server has what each login method needs, through its settings: the public URL
``http://localhost:PORT`` (browsers allow passkeys there; the browsers still connect to
127.0.0.1), the demo's policy (codes by SMS and e-mail accepted), ``smtp_url`` to an
aiosmtpd server and ``sms_url`` to an http.server webhook on loopback, a CAP issuer file,
and certificate anchors + CRLs of two test PKIs dated now (a SoftHSM2 token's, a software
PIV card's): :mod:`tests.server.live.material`, :mod:`tests.server.live.piv`.

``PROMETHEUS_MULTIPROC_DIR`` is ours: the files the workers write there
(``counter_<pid>.db``) tell which workers served requests.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import httpx
import pytest

from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.emv.issuer import SoftwareIssuerKeys
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.factors.totp import code_at
from securebox_auth.factors.totp_credential import TotpCredential
from securebox_auth.identity import Principal
from securebox_auth.shell.securebox import Securebox
from securebox_server.demo_data import prepare
from securebox_server.settings import load_settings
from securebox_server.wiring import build_securebox, migrate_database, write_master_key
from tests.server.live.material import SoftToken, mail_server, sms_webhook, soft_token
from tests.server.live.piv import PivPki, piv_pki
from tests.server.methods.conftest import Mailbox, SmsProvider
from tests.stores.conftest import postgres_admin_url, scratch_postgres  # noqa: F401

SOURCE: Final = Path(__file__).resolve().parents[3] / "src"
WORKERS: Final = 3
CODE: Final = "47120938"
ISSUER_PASSPHRASE: Final = "live issuer passphrase"
TOKEN: Final = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def token(html: str) -> str:
    found = TOKEN.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    base: str
    box: Securebox
    metrics_dir: Path
    process: subprocess.Popen[bytes]
    #: What the methods need (:mod:`tests.server.live.material`).
    public_url: str = ""
    home: Path = Path()
    mailbox: Mailbox | None = None
    sms: SmsProvider | None = None
    token: SoftToken | str = "no token"
    piv: PivPki | None = None
    _next_address: int = 1
    _next_client: int = 700_000_000

    def browser(self, *, keep_alive: bool = False) -> httpx.Client:
        """A browser at a new address of its own (``X-Forwarded-For``, trusted proxy).
        Without keep-alive every request opens a new connection, so the kernel hands it to
        any worker."""
        self._next_address += 1
        address = f"198.51.{self._next_address // 250}.{self._next_address % 250 + 1}"
        limits = httpx.Limits(max_keepalive_connections=None if keep_alive else 0)
        return httpx.Client(
            base_url=self.base,
            headers={"X-Forwarded-For": address},
            limits=limits,
            timeout=30,
        )

    def user(
        self, *, change: bool = True, totp: bool = False, strong_at: datetime | None = None
    ) -> tuple[Principal, str, TotpCredential | None]:
        """A new subscription's principal user: (principal, its one-time code, its TOTP
        credential or None). The code is changed to :data:`CODE` unless ``change`` is false;
        the last strong authentication is ``strong_at`` (default: now)."""
        box = self.box
        self._next_client += 1
        principal = Principal.parse(f"{self._next_client:09d}", "01")
        letter = box.codes.create_subscription(Operator("back-office"), principal)
        client, user = principal.client_id.value, principal.user_number.value
        if change:
            assert box.codes.change_code(client, user, letter.reveal(), CODE).changed
        credential = None
        if totp:
            enrolled = box.enrol_first_totp(Operator("back-office"), principal)
            assert box.confirm_totp(principal, code_at(enrolled.credential, box.clock.now()))
            credential = enrolled.credential
        when = strong_at or box.clock.now()
        box.store.commit([box.factors.renewal_change(principal, "web", when)], [])
        return principal, letter.reveal(), credential

    def workers_that_served(self) -> set[str]:
        """The pids whose request counters exist (one file per worker that counted)."""
        return {p.stem.rpartition("_")[2] for p in self.metrics_dir.glob("counter_*.db")}


def totp_now(credential: TotpCredential, at: datetime | None = None) -> str:
    return code_at(credential, at or datetime.now(UTC))


def _wait_ready(base: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group (the CLI, uvicorn and its workers)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):  # a worker outliving the CLI process
        os.killpg(process.pid, signal.SIGTERM)


@pytest.fixture(scope="package")
def live(
    postgres_admin_url: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("live")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    public = f"http://localhost:{port}"  # localhost: browsers allow passkeys over http
    soft = soft_token(home / "softhsm")
    card = piv_pki()
    with (
        scratch_postgres(postgres_admin_url) as url,
        mail_server() as (smtp_port, mailbox),
        sms_webhook() as sms,
    ):
        key = home / "master.key"
        write_master_key(key)
        issuer = home / "issuer-keys.json"
        SoftwareIssuerKeys.generate().save(issuer, ISSUER_PASSPHRASE, scrypt_n=2**10)
        settings_file = home / "settings.toml"
        lines = [
            f'database_url = "{url}"',
            f'master_key_file = "{key}"',
            f'public_url = "{public}"',
            'trusted_proxies = ["127.0.0.1"]',
            f'policy = "{prepare(home)["SECUREBOX_POLICY"]}"',  # + codes by SMS and e-mail
            f'smtp_url = "smtp+plain://127.0.0.1:{smtp_port}?from=no-reply@bank.example"',
            f'sms_url = "{sms.url}"',
            f'cap_issuer_file = "{issuer}"',
            f'cap_issuer_passphrase = "{ISSUER_PASSPHRASE}"',
        ]
        anchors, crl_files = home / "anchors.pem", [home / "piv-int.crl", home / "piv-root.crl"]
        bundle = card.pki.root.pem + card.pki.intermediate.pem
        crl_files[0].write_bytes(card.pki.crl())
        crl_files[1].write_bytes(card.pki.crl(issuer=card.pki.root))
        if isinstance(soft, SoftToken):
            bundle += soft.anchors.read_bytes()
            crl_files += soft.crls
        anchors.write_bytes(bundle)
        crls = ", ".join(f'"{c}"' for c in crl_files)
        lines += [f'certificate_anchors = "{anchors}"', f"certificate_crls = [{crls}]"]
        settings_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        settings = load_settings({}, settings_file)
        migrate_database(settings.database_url)
        box = build_securebox(settings, argon2=PROFILE_TESTING)
        metrics = home / "metrics"
        metrics.mkdir()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")]),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        }
        command = [sys.executable, "-m", "securebox_auth.cli", "serve", "--workers", str(WORKERS)]
        command += ["--port", str(port), "--settings", str(settings_file)]
        process = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
        try:
            _wait_ready(base, process, 60)
            yield LiveServer(base, box, metrics, process, public, home, mailbox, sms, soft, card)
        finally:
            _stop(process)
            box.store.engine.dispose()  # type: ignore[attr-defined]


__all__ = ["CODE", "LiveServer", "token", "totp_now"]
