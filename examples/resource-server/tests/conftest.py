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


@dataclass(frozen=True, slots=True)
class Payments:
    #: Two servers of this service (same database): send requests to either.
    bases: tuple[str, str]
    settings: Settings


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceServer]:
    with reference_server(tmp_path_factory.mktemp("reference")) as server:
        yield server


@pytest.fixture(scope="session")
def payments(
    reference: ReferenceServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Payments]:
    home = tmp_path_factory.mktemp("payments")
    key = home / "audit.key"
    write_audit_key(key)
    settings = Settings(
        issuer=reference.issuer,
        jwks_url=f"{reference.base}/api/v1/.well-known/jwks.json",
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
    processes: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for workers in (2, 1):
            port = free_port()
            command = [sys.executable, "-m", "payments_rs", "serve", "--port", str(port)]
            log = (home / f"payments-{port}.log").open("wb")
            processes.append(
                subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                    [*command, "--workers", str(workers)],
                    env=env,
                    start_new_session=True,
                    stdout=log,
                    stderr=log,
                )
            )
            log.close()
            bases.append(f"http://127.0.0.1:{port}")
            wait_ready(f"{bases[-1]}/healthz", processes[-1])
        yield Payments((bases[0], bases[1]), settings)
    finally:
        for process in processes:
            stop_group(process)


@pytest.fixture
def portal(reference: ReferenceServer) -> Iterator[PortalClient]:
    client = PortalClient(reference)
    yield client
    client.close()


def database_of(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite:///"))
