"""Several application hosts, one PostgreSQL, one nginx: the deployment of
``docs/deploy/nginx-cluster.conf`` built by the test run on this machine.

* **Hosts.** Each host is a network namespace of its own (``ip netns add``), joined to a
  bridge in the machine's namespace by a veth pair, with its own address (``10.N.0.11``,
  ``.12``...); the bridge holds ``10.N.0.1``, where PostgreSQL listens and from which nginx
  connects. A host's ``securebox serve --workers W`` runs inside its namespace
  (``ip netns exec``) and binds the host's address, so it reaches the database over the
  bridge and sees nginx as a remote peer, as on separate machines. Without the rights
  (not root, no ``ip``) or with ``SECUREBOX_SCALE_NETWORK=loopback``, the hosts are
  addresses of the loopback (``127.0.0.11``...) instead; :attr:`Network.kind` tells which
  ran and :attr:`Network.note` why.
* **Database.** A PostgreSQL cluster of the run's own (:mod:`tests.server.pgcluster`,
  listening on the bridge's address too, trusting the hosts' network); the machine's
  PostgreSQL is not used, since it listens on the loopback only.
* **nginx.** Debian's nginx runs ``docs/deploy/nginx-cluster.conf`` with the upstream
  lines replaced by the hosts and plain HTTP on a free loopback port (TLS and mutual TLS
  are ``tests/server/test_mtls_nginx.py``'s), its ``proxy_next_upstream`` unchanged.

Everything is stopped by process id (each server is its own process group, SIGTERM then
SIGKILL), the namespaces, veths and bridge deleted by name, the database removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import httpx
import psycopg

from securebox_auth.audit import AuditEvent
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.entitlements.accounts import Operator
from securebox_auth.entitlements.model import Company, Subscription
from securebox_auth.identity import Principal
from securebox_auth.shell.securebox import Securebox
from securebox_auth.stores.protocols import PutSubscription
from securebox_server.box.documents import DocumentStore
from securebox_server.clients.wiring import build_clients
from securebox_server.rate_limits.limiter import DEFAULT_LIMITS
from securebox_server.settings import load_settings
from securebox_server.wiring import (
    build_documents,
    build_securebox,
    migrate_database,
    write_master_key,
)
from tests.server.box.conftest import C1, C2, PAYROLL, STATEMENTS, TAX
from tests.server.box.e2e.processes import Processes
from tests.server.box.e2e.world import SENDER, STATEMENT, sender_token
from tests.server.clients.helpers import Registered, new_key
from tests.server.live.conftest import LiveServer
from tests.server.nginx import free_port, main_config, nginx_binary, running_config
from tests.server.pgcluster import postgres_cluster

__all__ = [
    "CONF",
    "KEPT_LIMITS",
    "Cluster",
    "Front",
    "Host",
    "Network",
    "cluster",
    "network",
]

ROOT: Final = Path(__file__).resolve().parents[3]
SOURCE: Final = ROOT / "src"
CONF: Final = ROOT / "docs" / "deploy" / "nginx-cluster.conf"
#: The port every host's server listens on inside its namespace (as on real hosts).
HOST_PORT: Final = 8000
#: The named limits left at their defaults (the others are raised: the load logs in
#: hundreds of times): identifications per source address, checked across hosts.
KEPT_LIMITS: Final = frozenset({"login.source"})
DATABASE: Final = "securebox"
UPSTREAM: Final = re.compile(
    r"^    server 10\.0\.0\.1\d:8000 max_fails=1 fail_timeout=10s;\n", re.M
)


@dataclass(frozen=True)
class Network:
    """The hosts' addresses, the gateway's (database and nginx side), and how they were
    made: ``netns`` (namespaces on a bridge) or ``loopback``."""

    kind: str
    gateway: str
    hosts: tuple[str, ...]
    namespaces: tuple[str, ...] = ()
    subnet: str = "127.0.0.0/8"
    note: str = ""

    def prefix(self, index: int) -> list[str]:
        """The command prefix that runs a program on host ``index``."""
        if self.kind == "netns":
            return ["ip", "netns", "exec", self.namespaces[index]]
        return []


def _ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], check=True, capture_output=True, timeout=20)  # noqa: S603,S607


def _free_subnet() -> int:
    used = subprocess.run(
        ["ip", "-4", "-o", "addr"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
        timeout=20,
    ).stdout
    for n in [*range(os.getpid() % 200 + 20, 250), *range(20, 250)]:
        if f" 10.{n}." not in used:
            return int(n)
    raise RuntimeError("no free 10.N.0.0/24 network")


@contextlib.contextmanager
def _namespaces(count: int) -> Iterator[Network]:
    tag = f"sb{os.getpid() % 100000}"
    bridge, made = f"{tag}br", list[str]()
    n = _free_subnet()
    try:
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", f"10.{n}.0.1/24", "dev", bridge)
        _ip("link", "set", bridge, "up")
        for i in range(count):
            ns, outside, inside = f"{tag}h{i}", f"{tag}v{i}", f"{tag}p{i}"
            _ip("netns", "add", ns)
            made.append(ns)
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", ns)
            _ip("link", "set", outside, "master", bridge, "up")
            _ip("-n", ns, "addr", "add", f"10.{n}.0.{11 + i}/24", "dev", inside)
            _ip("-n", ns, "link", "set", inside, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        hosts = tuple(f"10.{n}.0.{11 + i}" for i in range(count))
        yield Network("netns", f"10.{n}.0.1", hosts, tuple(made), f"10.{n}.0.0/24")
    finally:
        for ns in made:  # deleting a namespace deletes its end of the veth, and so the pair
            with contextlib.suppress(subprocess.SubprocessError):
                _ip("netns", "del", ns)
        with contextlib.suppress(subprocess.SubprocessError):
            _ip("link", "del", bridge)


@contextlib.contextmanager
def network(count: int) -> Iterator[Network]:
    """``count`` hosts in namespaces when the run may make them, else on the loopback."""
    why = ""
    if os.environ.get("SECUREBOX_SCALE_NETWORK") == "loopback":
        why = "SECUREBOX_SCALE_NETWORK=loopback"
    elif os.geteuid() != 0 or shutil.which("ip") is None:
        why = "not root, or no ip command"
    if not why:
        try:
            with _namespaces(count) as made:
                yield made
            return
        except subprocess.CalledProcessError as exc:
            if "made" in locals():  # the failure came from the body: not ours to hide
                raise
            why = f"ip {' '.join(map(str, exc.cmd[1:]))}: {exc.stderr!r}"
    hosts = tuple(f"127.0.0.{11 + i}" for i in range(count))
    yield Network("loopback", "127.0.0.1", hosts, note=why)


@dataclass
class Host:
    """One application host: its ``securebox serve`` process group."""

    name: str
    address: str
    port: int
    prefix: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self, settings: Path, workers: int) -> None:
        command = [*self.prefix, sys.executable, "-m", "securebox_auth.cli", "serve"]
        command += ["--workers", str(workers), "--host", self.address, "--port", str(self.port)]
        command += ["--settings", str(settings)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(SOURCE)])}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while not self.ready():
            assert time.monotonic() < deadline, f"{self.name} did not become ready"
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL to the whole server (its process group: the CLI, uvicorn, the workers),
        as when the host dies: no shutdown, requests in flight cut."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            Processes.stop_server(self.process)


@dataclass(frozen=True)
class Front:
    """Where the clients connect: nginx."""

    address: str
    base: str


@dataclass
class Cluster:
    """The running deployment and what the tests need to drive it."""

    network: Network
    hosts: list[Host]
    nginx_port: int
    home: Path
    settings: Path
    box: Securebox
    documents: DocumentStore
    sender_token: str
    #: The subscription whose companies the sender publishes to.
    reader: Principal
    #: Users and browsers through nginx, the live tests' way
    #: (:class:`tests.server.live.conftest.LiveServer`: ``user()``, ``browser()``).
    people: LiveServer

    @property
    def base(self) -> str:
        """nginx's address, where the clients connect."""
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def front(self) -> Front:
        """nginx, as a place a browser sends its requests to."""
        return Front("127.0.0.1", f"http://127.0.0.1:{self.nginx_port}")

    @property
    def public_url(self) -> str:
        """The portal's public URL (``localhost``: browsers allow passkeys there)."""
        return f"http://localhost:{self.nginx_port}"


def site(network: Network, port: int, nginx_port: int) -> str:
    """``docs/deploy/nginx-cluster.conf`` for this run: the hosts as the upstream, plain
    HTTP on the loopback (the TLS lines dropped); the retry policy as shipped."""
    text = CONF.read_text(encoding="utf-8")
    assert len(UPSTREAM.findall(text)) == 3, f"{CONF} changed shape: the upstream lines"
    servers = "".join(
        f"    server {a}:{port} max_fails=1 fail_timeout=10s;\n" for a in network.hosts
    )
    text = UPSTREAM.sub("", text, count=2)
    text = UPSTREAM.sub(lambda _: servers, text, count=1)
    listen = "listen 443 ssl;"
    assert listen in text, f"{CONF} changed shape: {listen!r} is gone"
    text = text.replace(listen, f"listen 127.0.0.1:{nginx_port};")
    tls = re.compile(r"^    ssl_[a-z_]+ .*\n", re.M)
    assert len(tls.findall(text)) == 3, f"{CONF} changed shape: the ssl_ lines"
    return tls.sub("", text)


def _limits() -> str:
    raised = "".join(
        f'"{name}" = "1000000/minute"\n' for name in DEFAULT_LIMITS if name not in KEPT_LIMITS
    )
    return f"[rate_limits]\n{raised}"


def _settings(home: Path, url: str, network: Network, nginx_port: int) -> Path:
    key = home / "master.key"
    write_master_key(key)
    # nginx connects from the gateway; the test's clients (127.0.0.1) stand for a front
    # load balancer that says who the browser is (X-Forwarded-For), as in the live tests.
    trusted = sorted({network.gateway, "127.0.0.1"})
    path = home / "settings.toml"
    path.write_text(
        f'database_url = "{url}"\nmaster_key_file = "{key}"\n'
        f'public_url = "http://localhost:{nginx_port}"\n'
        f"trusted_proxies = {json.dumps(trusted)}\n"
        f"{_limits()}",
        encoding="utf-8",
    )
    return path


def _reader(box: Securebox) -> Principal:
    """A subscription holding companies C1 and C2, the sender's recipients."""
    principal = Principal.parse("123456789", "01")
    box.codes.create_subscription(Operator("back-office"), principal)
    found = box.store.get_subscription(principal.client_id)
    assert found is not None
    now = datetime.now(UTC)
    companies = {C1: Company(C1, "ACME", now), C2: Company(C2, "ACME Services", now)}
    subscription = Subscription(
        principal.client_id, companies=companies, themes=frozenset({PAYROLL, TAX, STATEMENTS})
    )
    event = AuditEvent.make(now, "scale.seed", actor="test", subject="reader", outcome="ok")
    box.store.commit([PutSubscription(principal.client_id, found.version, subscription)], [event])
    return principal


@contextlib.contextmanager
def cluster(home: Path, *, hosts: int = 3, workers: int = 2) -> Iterator[Cluster]:
    """The deployment, started (every host ready, nginx listening); stopped afterwards."""
    nginx = nginx_binary()
    with network(hosts) as net:
        listen = ("127.0.0.1",) if net.kind == "loopback" else ("127.0.0.1", net.gateway)
        clients = None if net.kind == "loopback" else net.subnet
        with postgres_cluster(listen, clients) as pg:
            with psycopg.connect(pg.url(), autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {DATABASE}")
            url = f"postgresql://postgres@{net.gateway}:{pg.port}/{DATABASE}"
            nginx_port = free_port()
            settings_file = _settings(home, url, net, nginx_port)
            settings = load_settings({}, settings_file)
            migrate_database(url)
            box = build_securebox(settings, argon2=PROFILE_TESTING)
            documents = build_documents(settings, box)
            assert documents is not None
            port = HOST_PORT if net.kind == "netns" else free_port()
            started = [
                Host(f"host-{chr(65 + i)}", a, port, net.prefix(i), home / f"host-{i}.log")
                for i, a in enumerate(net.hosts)
            ]
            try:
                for host in started:
                    host.start(settings_file, workers)
                for host in started:
                    host.wait_ready()
                config = main_config(home, site(net, port, nginx_port), connections=512)
                with running_config(nginx, home, config, nginx_port):
                    made = _world(net, started, nginx_port, home, settings_file, box, documents)
                    yield made
            finally:
                for host in started:
                    host.stop()
                documents.engine.dispose()
                box.store.engine.dispose()  # type: ignore[attr-defined]


def _world(
    net: Network,
    hosts: list[Host],
    nginx_port: int,
    home: Path,
    settings_file: Path,
    box: Securebox,
    documents: DocumentStore,
) -> Cluster:
    """The sender registered (its access token taken through nginx), the reader's
    subscription, the statement type."""
    reader = _reader(box)
    documents.define_type(STATEMENT)
    clients = build_clients(load_settings({}, settings_file), box)
    assert clients is not None
    key, jwks = new_key("ES256")
    sender = Registered(
        clients.add_sender(SENDER, "Back office", jwks=jwks), key, "ES256", jwks["keys"][0]["kid"]
    )
    clients.store.engine.dispose()
    public = f"http://localhost:{nginx_port}"
    with httpx.Client(base_url=f"http://127.0.0.1:{nginx_port}", timeout=60) as http:
        token = sender_token(http, sender, box.clock, public)
    assert hosts[0].process is not None
    people = LiveServer(f"http://127.0.0.1:{nginx_port}", box, home, hosts[0].process, public, home)
    return Cluster(
        net, hosts, nginx_port, home, settings_file, box, documents, token, reader, people
    )
