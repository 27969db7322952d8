"""Real servers on loopback for the tests: the securebox reference server with the demo's
data (``payments_rs.reference``), and this service twice, as two uvicorn servers (one of two
workers, one of one) on the same SQLite database: three processes that must agree on what
was already spent. Every process is its own process group, stopped by its id."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from payments_rs.reference import (
    PortalClient,
    ReferenceServer,
    free_port,
    reference_server,
    stop_group,
    wait_ready,
)
from payments_rs.settings import Settings, write_audit_key

PAYEE = "FR7630006000011234567890189"


@dataclass(frozen=True, slots=True)
class Payments:
    #: Two servers of this service (same database): send requests to either.
    bases: tuple[str, str]
    settings: Settings


@dataclass(frozen=True, slots=True)
class Servers:
    reference: ReferenceServer
    payments: Payments


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """This service's processes start while the reference server is seeded and starts
    (they fetch its keys at the first request only)."""
    home = tmp_path_factory.mktemp("payments")
    reference_port = free_port()
    key = home / "audit.key"
    write_audit_key(key)
    settings = Settings(
        issuer=f"http://localhost:{reference_port}",  # the reference server's public URL
        jwks_url=f"http://127.0.0.1:{reference_port}/api/v1/.well-known/jwks.json",
        database_url=f"sqlite:///{home / 'payments.db'}",
        audit_key_file=key,
    )
    env = {
        **os.environ,
        "PAYMENTS_ISSUER": settings.issuer,
        "PAYMENTS_JWKS_URL": settings.jwks_url,
        "PAYMENTS_DATABASE_URL": settings.database_url,
        "PAYMENTS_AUDIT_KEY_FILE": str(key),
    }
    migrate = [sys.executable, "-m", "payments_rs", "migrate"]
    subprocess.run(migrate, env=env, check=True)  # noqa: S603 - once, before the workers
    processes: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for workers in (2, 1):
            port = free_port()
            command = [sys.executable, "-m", "uvicorn", "payments_rs.app:app_from_environment"]
            command += ["--factory", "--port", str(port), "--workers", str(workers)]
            with (home / f"payments-{port}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                        command, env=env, start_new_session=True, stdout=log, stderr=log
                    )
                )
            bases.append(f"http://127.0.0.1:{port}")
        with reference_server(tmp_path_factory.mktemp("reference"), reference_port) as ref:
            for base, process in zip(bases, processes, strict=True):
                wait_ready(f"{base}/healthz", process)
            yield Servers(ref, Payments((bases[0], bases[1]), settings))
    finally:
        for process in processes:
            stop_group(process)


@pytest.fixture(scope="session")
def reference(servers: Servers) -> ReferenceServer:
    return servers.reference


@pytest.fixture(scope="session")
def payments(servers: Servers) -> Payments:
    return servers.payments


@pytest.fixture
def portal(reference: ReferenceServer) -> Iterator[PortalClient]:
    client = PortalClient(reference)
    yield client
    client.close()


def database_of(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))


@pytest.fixture(scope="session")
def strong_session(reference: ReferenceServer) -> Iterator[tuple[PortalClient, str]]:
    """A session of user 01 stepped up with its certificate (for 75.00 EUR): its
    assertions say ``acr`` ``...:sca:phr``, ``amr`` with ``mfa``."""
    client = PortalClient(reference)
    token = client.step_up_transfer(client.login(), "75.00", "EUR", PAYEE)
    yield client, token
    client.close()
