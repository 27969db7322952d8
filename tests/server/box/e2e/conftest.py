"""Two deployments of the whole box for the end-to-end and fault tests, each with a real
aiosmtpd relay (``smtp_relay``) and the world of :mod:`.world`:

* ``in_process`` (SQLite): the app under a ``TestClient``, a ``FixedClock``, the jobs pass
  called in process (what ``securebox jobs run`` does: ``build_jobs(...).run_once(force=
  True)``);
* ``live`` (PostgreSQL, a scratch database): a real ``securebox serve --workers 3`` and
  ``securebox jobs run`` / ``jobs worker`` processes, every process on the settable clock of
  :mod:`.clock` (the real time plus an offset the test moves), the senders' rate limit
  raised (the fault loops post hundreds of documents at once).

``fault_loops()``: how many iterations the kill -9 loops run (``SECUREBOX_BOX_FAULT_LOOPS``;
``nox -s box_faults`` runs 20). The default run (the variable unset) does one iteration of
the jobs worker's loops (~8 s each) and skips the server's (~15-20 s each: a server start).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Final

import httpx
import pytest
from fastapi.testclient import TestClient

from securebox_auth.clock import FixedClock
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_server.app import create_app
from securebox_server.box.documents import DocumentStore
from securebox_server.clients.service import ApiClients
from securebox_server.clients.wiring import build_clients
from securebox_server.jobs.wiring import build_jobs
from securebox_server.settings import Settings, load_settings
from securebox_server.wiring import (
    build_documents,
    build_securebox,
    migrate_database,
    write_master_key,
)
from tests.server.box.conftest import T0
from tests.server.box.e2e.clock import ShiftedClock
from tests.server.box.e2e.processes import Processes, free_port
from tests.server.box.e2e.world import Actors, Movable, seed
from tests.server.jobs.conftest import Relay, SmtpRelay, smtp_relay  # noqa: F401 (fixture)
from tests.stores.conftest import postgres_admin_url, scratch_postgres  # noqa: F401

__all__ = ["LOOPS_ENV", "Deployment", "LiveParts", "fault_loops"]

LOOPS_ENV: Final = "SECUREBOX_BOX_FAULT_LOOPS"
WORKERS: Final = 3


def fault_loops() -> int:
    return max(1, int(os.environ.get(LOOPS_ENV, "1")))


@dataclass
class Deployment:
    kind: str
    http: httpx.Client
    #: The public origin (the audience of client assertions).
    origin: str
    box: Securebox
    clock: Movable
    documents: DocumentStore
    clients: ApiClients
    relay: Relay
    actors: Actors
    #: One pass of every job (``securebox jobs run``).
    jobs_pass: Callable[[], None]
    processes: Processes | None = None
    server: Popen[bytes] | None = None


def _smtp(relay: SmtpRelay) -> str:
    return f"smtp+plain://127.0.0.1:{relay.port}?from=box@bank.example"


@pytest.fixture
def in_process(
    tmp_path: Path,
    migrated_sqlite: Path,
    smtp_relay: SmtpRelay,  # noqa: F811
) -> Iterator[Deployment]:
    shutil.copyfile(migrated_sqlite, tmp_path / "server.db")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/server.db",
        public_url="http://testserver",
        demo=True,
        smtp_url=_smtp(smtp_relay),
        rate_limits_enabled=False,
    )
    clock = FixedClock(T0)
    keys = DerivedKeys.generate()
    box = build_securebox(settings, clock=clock, argon2=PROFILE_TESTING, keys=keys)
    app = create_app(settings, securebox=box, keys=keys)
    server = app.state.server
    documents, clients = server.documents, server.clients
    assert documents is not None
    assert clients is not None
    jobs = build_jobs(settings, box, documents, worker="in-process")
    actors = seed(box, clock, documents, clients, tmp_path)
    with TestClient(app, base_url=settings.public_url, raise_server_exceptions=False) as http:
        yield Deployment(
            "sqlite",
            http,
            settings.public_url,
            box,
            clock,
            documents,
            clients,
            smtp_relay.relay,
            actors,
            lambda: None if jobs.run_once(force=True).failed == [] else pytest.fail("a job"),
        )
    documents.engine.dispose()


@dataclass
class LiveParts:
    """The database and settings of a live deployment, before its server starts."""

    settings: Settings
    processes: Processes
    box: Securebox
    clock: ShiftedClock
    documents: DocumentStore
    clients: ApiClients
    actors: Actors
    port: int


@contextlib.contextmanager
def _parts(url: str, home: Path, relay: SmtpRelay) -> Iterator[LiveParts]:
    """The settings file, the database migrated and seeded, for processes to start."""
    port = free_port()
    key = home / "master.key"
    write_master_key(key)
    settings_file = home / "settings.toml"
    settings_file.write_text(
        "\n".join(
            [
                f'database_url = "{url}"',
                f'master_key_file = "{key}"',
                f'public_url = "http://127.0.0.1:{port}"',
                f'smtp_url = "{_smtp(relay)}"',
                "[rate_limits]",  # the fault loops post hundreds of documents at once
                '"api.sender" = "100000/minute"',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    settings = load_settings({}, settings_file)
    migrate_database(settings.database_url)
    clock = ShiftedClock(home / "clock-offset")
    box = build_securebox(settings, clock=clock, argon2=PROFILE_TESTING)
    documents = build_documents(settings, box)
    clients = build_clients(settings, box)
    assert documents is not None
    assert clients is not None
    processes = Processes(settings_file, clock.path, home)
    actors = seed(box, clock, documents, clients, home)
    try:
        yield LiveParts(settings, processes, box, clock, documents, clients, actors, port)
    finally:
        processes.close()
        documents.engine.dispose()
        clients.store.engine.dispose()
        box.store.engine.dispose()  # type: ignore[attr-defined]


@pytest.fixture
def live_parts(
    postgres_admin_url: str,  # noqa: F811
    tmp_path: Path,
    smtp_relay: SmtpRelay,  # noqa: F811
) -> Iterator[LiveParts]:
    """A scratch PostgreSQL database, seeded, for real processes."""
    with scratch_postgres(postgres_admin_url) as url, _parts(url, tmp_path, smtp_relay) as parts:
        yield parts


@pytest.fixture
def sqlite_parts(
    tmp_path: Path,
    migrated_sqlite: Path,
    smtp_relay: SmtpRelay,  # noqa: F811
) -> Iterator[LiveParts]:
    """A SQLite file, seeded, for real processes."""
    shutil.copyfile(migrated_sqlite, tmp_path / "live.db")
    with _parts(f"sqlite:///{tmp_path}/live.db", tmp_path, smtp_relay) as parts:
        yield parts


@pytest.fixture
def live(live_parts: LiveParts, smtp_relay: SmtpRelay) -> Iterator[Deployment]:  # noqa: F811
    parts = live_parts
    server = parts.processes.serve(parts.port, WORKERS)
    with httpx.Client(base_url=f"http://127.0.0.1:{parts.port}", timeout=30) as http:
        yield Deployment(
            "postgresql",
            http,
            parts.settings.origin,
            parts.box,
            parts.clock,
            parts.documents,
            parts.clients,
            smtp_relay.relay,
            parts.actors,
            lambda: print(parts.processes.jobs_run()),
            parts.processes,
            server,
        )
