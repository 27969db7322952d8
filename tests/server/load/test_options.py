"""The load driver's options and parts (issue 19, ADR 0053): ``--mix`` and ``--rate`` from
the command line against a real ``securebox serve``, their validation, the open model's
latency from the intended time against a real slow HTTP server, the TOTP code of a user
whose enrolment used the current step, the bulk documents behind the pages."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from loadtest.__main__ import main
from loadtest.client import BACKLOG, Stats, get_open, get_request, thread_open
from loadtest.deployment import SecondFactorUser, totp_code
from loadtest.ingest import SEED_CHUNK, seed_spread, siren_of
from loadtest.million import PUBLISHED, bulk_documents, split
from loadtest.run import MIXES, mix_keys, rates
from sqlalchemy import text

from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.factors.totp import code_at, enrol_totp
from securebox_auth.identity import Principal
from securebox_auth.shell.keys import DerivedKeys
from securebox_auth.shell.securebox import Securebox
from securebox_auth.shell.sql import open_sql_store
from securebox_auth.stores.sql.engine import create_engine
from securebox_server.settings import DEFAULT_POLICY
from securebox_server.wiring import migrate_database


def test_some_mixes_in_the_open_model_from_the_command_line(tmp_path: Path) -> None:
    """``--mix`` runs those mixes alone (and seeds what they need); ``--rate`` schedules
    their arrivals; the report says which model each mix ran in."""
    report = tmp_path / "report.md"
    argv = ["--seconds", "1", "--workers", "1", "--databases", "sqlite", "--documents", "1"]
    argv += ["--mix", "home,healthz", "--rate", "healthz=40", "--report", str(report)]
    assert main(argv) == 0
    written = report.read_text(encoding="utf-8")
    table = written.split("## Exactness")[0]
    rows = [line for line in table.splitlines() if line.startswith("| SQLite |")]
    assert [row.split(" | ")[1] for row in rows] == [
        "/healthz (bare endpoint)",
        "home page (20 newest)",
    ]
    assert "open model for healthz (40 arrivals/s" in written
    assert "FAILED" not in written
    assert "| SQLite | securebox audit verify | exit 0 | exit 0 | ok |" in written
    assert "payee" not in written  # no step-up mix: its checks are not made


def test_mix_and_rate_options_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert mix_keys("") == [m.key for m in MIXES]
    assert mix_keys("stepup, home") == ["home", "stepup"]  # the run's order
    with pytest.raises(ValueError, match="unknown mix nope"):
        mix_keys("home,nope")
    assert rates("", ["home"]) == {}
    assert rates("25", ["home", "login"]) == {"home": 25.0, "login": 25.0}
    assert rates("home=500,login=2.5", ["home", "login"]) == {"home": 500.0, "login": 2.5}
    for bad in ("home=0", "home=-1", "home=x", "home=nan", "search=3"):
        with pytest.raises(ValueError, match="--rate"):
            rates(bad, ["home", "login"])
    for argv in (["--mix", "nope"], ["--rate", "0"], ["--databases", "oracle"], ["--seconds", "0"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


@pytest.fixture
def slow_server() -> Iterator[int]:
    """A real HTTP server on loopback answering each request 20 ms after it read it, one
    request at a time per connection."""
    ready = threading.Event()
    port: list[int] = []
    stop: list[asyncio.Event] = []
    loop = asyncio.new_event_loop()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(0.02)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        stop.append(asyncio.Event())
        ready.set()
        async with server:
            await stop[0].wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield port[0]
    loop.call_soon_threadsafe(stop[0].set)
    thread.join(10)
    loop.close()


def test_open_model_latency_counts_from_the_intended_time(slow_server: int) -> None:
    """One connection serving 20 ms requests can answer 50 a second; 100 arrivals a second
    queue up: the open model's latency grows with the queue (what users arriving then
    would wait), where the service time alone stays 20 ms; arrivals not sent by the end
    are failures (``backlog``), not forgotten."""
    request = get_request(slow_server, "/", {})
    seconds = 1.0
    started = time.perf_counter()
    samples = get_open(slow_server, [[request]], seconds, rate=100)
    stats = Stats.of(samples, 0, float("inf"))
    assert stats.operations == 100
    # the backlog counts inside the schedule's window (at the arrivals' times)
    window = Stats.of(samples, started, started + seconds + 0.05)
    assert window.operations == 100
    assert window.errors == stats.errors > 0
    assert 0.2 < stats.p99 < 2.0  # queued half a second and more, not 20 ms
    assert dict(stats.failures).get(BACKLOG, 0) >= 30
    assert stats.p50 >= 0.02

    # below capacity (10 a second on two connections), with 100 ms between arrivals: even
    # the last one is sent before the end on a loaded machine
    paced = Stats.of(get_open(slow_server, [[request]] * 2, seconds, rate=10), 0, 1e9)
    assert paced.operations == 10
    assert paced.errors == 0
    assert paced.p99 < 0.2  # below capacity: the service time


def test_thread_open_schedules_arrivals_whatever_the_answers() -> None:
    def slow(_: int) -> str | None:
        time.sleep(0.05)
        return None

    samples = thread_open([slow], 0.5, rate=40)  # capacity 20 a second
    stats = Stats.of(samples, 0, 1e9)
    assert stats.operations == 20
    assert stats.p99 > 0.2
    assert dict(stats.failures)[BACKLOG] >= 5


def test_the_totp_code_skips_the_step_its_enrolment_used() -> None:
    """RFC 6238 replay: the step the enrolment confirmed is used; the client then sends the
    next step's code (the server's window of one step accepts it)."""
    now = datetime(2026, 12, 6, 0, 0, 10, tzinfo=UTC)
    credential = enrol_totp(Principal.parse("800000001", "01"), now=now, issuer="t").credential
    step = int(now.timestamp()) // 30
    user = SecondFactorUser(Principal.parse("800000001", "01"), credential, step)
    later = datetime.fromtimestamp((step + 1) * 30, UTC)
    assert totp_code(user, now) == code_at(credential, later)
    assert totp_code(user, now) != code_at(credential, now)
    much_later = datetime.fromtimestamp((step + 5) * 30 + 7, UTC)
    assert totp_code(user, much_later) == code_at(credential, much_later)


def test_bulk_documents_fill_the_catalogue_and_the_box(tmp_path: Path) -> None:
    assert split(1) == (1, 0)
    assert split(1_000_000) == (PUBLISHED, 1_000_000 - PUBLISHED)
    with pytest.raises(ValueError, match="at least one"):
        split(0)
    url = f"sqlite:///{tmp_path}/bulk.db"
    migrate_database(url)
    engine = create_engine(url)
    try:
        bulk_documents(engine, 5_000, "ab" * 32, 1234)
        with engine.connect() as conn:
            counted = conn.execute(text("SELECT count(*) FROM box_documents")).scalar()
            newest = conn.execute(
                text("SELECT id FROM documents ORDER BY issued_at DESC, id DESC LIMIT 2")
            ).all()
            cells = conn.execute(text("SELECT sum(documents) FROM document_counts")).scalar()
            joined = conn.execute(
                text(
                    "SELECT count(*) FROM documents d JOIN box_documents b ON b.id = d.id "
                    "AND b.issued_at = d.issued_at AND b.company = d.company"
                )
            ).scalar()
            indexes = conn.execute(
                text("SELECT count(*) FROM sqlite_master WHERE tbl_name = 'documents' "
                     "AND type = 'index' AND name LIKE 'ix_documents_%'")
            ).scalar()  # fmt: skip
        assert counted == cells == joined == 5_000
        assert [r[0] for r in newest] == ["b000000001", "b000000002"]
        assert indexes == 4
    finally:
        engine.dispose()


def test_the_ingestion_mixes_spread_and_batched_from_the_command_line(tmp_path: Path) -> None:
    """``--spread`` seeds that many subscriptions of one company each, the spread mixes
    publish to each in turn; ``--batch`` is the documents of a batch; the report counts
    documents (a batch's size an operation) and the exactness checks hold (every
    acknowledged document there once, notified once, the audit chains verified)."""
    report = tmp_path / "report.md"
    argv = ["--seconds", "3", "--workers", "1", "--databases", "sqlite", "--documents", "1"]
    argv += ["--mix", "ingestion_spread,ingestion_batch,ingestion_batch_spread"]
    argv += ["--spread", "7", "--batch", "3", "--report", str(report)]
    assert main(argv) == 0
    written = report.read_text(encoding="utf-8")
    assert "- SQLite ingestion spread over subscriptions: " in written
    assert "requests/s of 3 documents" in written
    assert "FAILED" not in written
    assert "| SQLite | documents == acknowledged publications + bulk rows |" in written
    assert "| SQLite | securebox audit verify | exit 0 | exit 0 | ok |" in written
    for bad in (["--spread", "0"], ["--batch", "101"]):
        with pytest.raises(SystemExit) as exited:
            main(bad)
        assert exited.value.code == 2


def test_spread_subscriptions_hold_one_valid_company_each(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/spread.db"
    migrate_database(url)
    keys = DerivedKeys.generate()
    store = open_sql_store(url, audit_key=keys.audit_key())
    box = Securebox.from_policy(DEFAULT_POLICY, store=store, keys=keys, argon2=PROFILE_TESTING)
    try:
        companies = seed_spread(box, SEED_CHUNK + 3)  # two commits
        assert len(set(companies)) == SEED_CHUNK + 3
        assert companies[0] == siren_of(0)
        for n in (0, SEED_CHUNK, SEED_CHUNK + 2):
            (holder,) = store.subscriptions_holding(companies[n])
            found = store.get_subscription(holder)
            assert found is not None
            assert list(found.value.companies) == [companies[n]]
    finally:
        store.engine.dispose()
