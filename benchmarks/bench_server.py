"""The reference server under load: a real ``securebox serve --workers 2`` on loopback, on
SQLite and PostgreSQL, driven by a small asyncio load client in this process.

* ``/healthz`` (the bare endpoint: routing, middleware, JSON, no database) and ``/home``
  (an authenticated page: the session read and its idle timer restarted in the store, the
  template rendered) through keep-alive connections (``HOME_LANES`` at once, requests
  written by hand on asyncio streams so the client costs little). Target: >= 2,000 home
  pages a second (shown as <= 0.5 ms a request); the ratio to ``/healthz`` is reported.
* a code login through the real forms (``GET /login``, ``POST /login/user``,
  ``GET /login/code``, ``POST /login/code``: the rate limits, the flow, one argon2id
  verification at the shipped ``PROFILE_2026``, the session) with httpx, ``LOGIN_LANES``
  users at once, against the bare argon2id verification rate with the same parameters in
  as many processes as the server has workers. Target: login rate >= 0.9x the bare rate
  (shown as a time ratio <= 1.11). Beside it, for reference, the login's floor on this
  machine: one verification and four requests at the cost of ``/healthz``.

The rate limits are on (the database limiter on the same database) with the request
limits raised (``login.global``, ``login.source``, ``login.account``) so that one load
client on one address is not refused: what they cost is measured, not what they refuse.
The client shares the cores with the server (reported figures are for the whole box).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import httpx
from backends import LABELS, SQL_KINDS, available, new_url
from bench_flow import bare_verifier
from harness import Comparison, Reading, Timing

from securebox_auth import PROFILE_2026, Operator, Principal

WORKERS: Final = 2
HOME_LANES: Final = 16
LOGIN_LANES: Final = 8
CODE: Final = "47120938"
TOKEN: Final = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
RAISED: Final = (
    '"login.global" = "10000000/10 seconds"\n'
    '"login.source" = "10000000/10 seconds"\n'
    '"login.account" = "10000000/10 seconds"\n'
)
SOURCE: Final = Path(__file__).resolve().parents[1] / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``securebox serve`` in its own process group, stopped by its id."""

    def __init__(self, url: str, home: Path) -> None:
        from securebox_server.settings import load_settings  # noqa: PLC0415
        from securebox_server.wiring import (  # noqa: PLC0415
            build_securebox,
            migrate_database,
            write_master_key,
        )

        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        key = home / "master.key"
        write_master_key(key)
        settings_file = home / "settings.toml"
        settings_file.write_text(
            f'database_url = "{url}"\nmaster_key_file = "{key}"\npublic_url = "{self.base}"\n'
            f"[rate_limits]\n{RAISED}",
            encoding="utf-8",
        )
        settings = load_settings({}, settings_file)
        migrate_database(url)
        self.box = build_securebox(settings, argon2=PROFILE_2026)
        self.users = [self._user(n) for n in range(LOGIN_LANES)]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")]),
            "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="securebox-bench-metrics-"),
        }
        command = [sys.executable, "-m", "securebox_auth.cli", "serve"]
        command += ["--workers", str(WORKERS), "--port", str(self.port)]
        command += ["--settings", str(settings_file)]
        self.process = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
        self._wait()

    def _user(self, n: int) -> Principal:
        box = self.box
        principal = Principal.parse(f"{800_000_000 + n:09d}", "01")
        letter = box.codes.create_subscription(Operator("bench"), principal)
        box.codes.change_code(principal.client_id.value, "01", letter.reveal(), CODE)
        box.store.commit([box.factors.renewal_change(principal, "web", box.clock.now())], [])
        return principal

    def _wait(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.box.store.engine.dispose()  # type: ignore[attr-defined]


# ---- CPU accounting (the machine is shared: wall-clock rates depend on the neighbours) ---

_TICK: Final = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def _server_cpu(server: Server) -> float:
    """CPU seconds used so far by the server's processes and its PostgreSQL backends."""
    pids = _group(server.process.pid)
    engine = server.box.store.engine  # type: ignore[attr-defined]
    if engine.dialect.name == "postgresql":
        from sqlalchemy import text  # noqa: PLC0415

        with engine.connect() as conn:
            pids += (
                conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                .scalars()
                .all()
            )
    return sum(_cpu_of(pid) for pid in pids)


def measured(
    server: Server, work: Callable[[], tuple[int, int]], seconds: float
) -> tuple[float, float]:
    """(per wall second in the measured window, per server CPU second x WORKERS over the
    whole run) of ``work``'s counts. PostgreSQL backends that end during the run are not
    counted (the server's pools keep theirs)."""
    before = _server_cpu(server)
    done, counted = work()
    cpu = _server_cpu(server) - before
    return counted / seconds, done / cpu * WORKERS if cpu > 0 else float("nan")


# ---- the load client -----------------------------------------------------------------------


async def _get_lane(port: int, request: bytes, until: float, start: float) -> tuple[int, int]:
    """Requests on one keep-alive connection: how many completed, and after ``start``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = counted = 0
    try:
        while time.perf_counter() < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if length is None:
                raise RuntimeError("no content-length")
            await reader.readexactly(int(length.group(1)))
            done += 1
            counted += time.perf_counter() >= start
    finally:
        writer.close()
    return done, counted


def get_count(port: int, path: str, cookies: list[str], seconds: float) -> tuple[int, int]:
    """Requests completed in all, and in the ``seconds`` measured (after a warm-up of a
    fifth of ``seconds``), for ``GET path`` over one connection per session cookie."""
    requests = [
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {c}\r\n\r\n".encode()
        for c in cookies
    ]

    async def run() -> tuple[int, int]:
        start = time.perf_counter() + seconds / 5
        until = start + seconds
        lanes = [_get_lane(port, request, until, start) for request in requests]
        counts = await asyncio.gather(*lanes)
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    return asyncio.run(run())


async def _login_lane(
    base: str, principal: Principal, until: float, start: float
) -> tuple[int, int]:
    from securebox_server.web.cookies import CookieNames  # noqa: PLC0415

    names = CookieNames(secure=False)
    done = counted = 0
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        page = await http.get("/login")
        pre = TOKEN.findall(page.text)[0]
        form = {
            "client_id": principal.client_id.value,
            "user_number": principal.user_number.value,
            "csrf_token": pre,
        }
        while time.perf_counter() < until:
            for name in (names.session, names.flow):
                http.cookies.delete(name)
            started = await http.post("/login/user", data=form)
            if started.status_code != 303:
                raise RuntimeError(f"identification: {started.status_code}")
            page = await http.get("/login/code")
            answer = {"code": CODE, "csrf_token": TOKEN.findall(page.text)[0]}
            done_page = await http.post("/login/code", data=answer)
            if done_page.headers.get("location") != "/home":
                raise RuntimeError(f"login: {done_page.status_code}")
            done += 1
            counted += time.perf_counter() >= start
    return done, counted


def login_count(server: Server, seconds: float) -> tuple[int, int]:
    async def run() -> tuple[int, int]:
        start = time.perf_counter() + seconds / 5
        until = start + seconds
        lanes = [_login_lane(server.base, u, until, start) for u in server.users]
        counts = await asyncio.gather(*lanes)
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    return asyncio.run(run())


def _session_cookie(server: Server, principal: Principal) -> str:
    """A session of ``principal``'s (one per connection: the requests of one session
    restart its idle timer with compare-and-swap, and a browser does not send 16 at once)."""
    from securebox_server.web.cookies import CookieNames  # noqa: PLC0415

    names = CookieNames(secure=False)
    with httpx.Client(base_url=server.base, timeout=60) as http:
        page = http.get("/login")
        form = {
            "client_id": principal.client_id.value,
            "user_number": principal.user_number.value,
            "csrf_token": TOKEN.findall(page.text)[0],
        }
        http.post("/login/user", data=form)
        page = http.get("/login/code")
        http.post("/login/code", data={"code": CODE, "csrf_token": TOKEN.findall(page.text)[0]})
        session = http.cookies.get(names.session)
        assert session, "the login did not open a session"
        assert http.get("/home").status_code == 200
    return f"{names.session}={session}"


# ---- bare argon2id on as many processes as workers ---------------------------------------


#: The requests of a code login through the forms (``login_count``).
LOGIN_REQUESTS: Final = 4


def _verify_for(seconds: float, results: multiprocessing.Queue[tuple[int, float]]) -> None:
    verify: Callable[[], object] = bare_verifier(PROFILE_2026)
    verify()
    count, until, cpu = 0, time.perf_counter() + seconds, time.process_time()
    while time.perf_counter() < until:
        verify()
        count += 1
    results.put((count, time.process_time() - cpu))


def argon2_rate(seconds: float) -> tuple[float, float]:
    """Bare argon2id verifications (per wall second, per CPU second x ``WORKERS``),
    ``WORKERS`` processes at once."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[tuple[int, float]] = context.Queue()
    processes = [
        context.Process(target=_verify_for, args=(seconds, results)) for _ in range(WORKERS)
    ]
    for process in processes:
        process.start()
    counted = [results.get(timeout=seconds + 60) for _ in processes]
    for process in processes:
        process.join()
    total, cpu = sum(c for c, _ in counted), sum(t for _, t in counted)
    return total / seconds, total / cpu * WORKERS


def _timing(name: str, rate: float, seconds: float) -> Timing:
    # No login finished in a --quick slice on a loaded machine: an infinite time, not a crash.
    return Timing(name, 1 / rate if rate else math.inf, 1, max(1, round(rate * seconds)))


def _figures(kind: str, seconds: float) -> dict[str, tuple[float, float]]:
    """(wall rate, CPU rate) of /healthz, /home and the code login on a new server."""
    with tempfile.TemporaryDirectory(prefix="securebox-bench-server-") as home:
        server = Server(new_url(kind), Path(home))
        try:
            users = server.users * (HOME_LANES // len(server.users))
            cookies = [_session_cookie(server, user) for user in users]
            return {
                "health": measured(
                    server, lambda: get_count(server.port, "/healthz", cookies, seconds), seconds
                ),
                "home": measured(
                    server, lambda: get_count(server.port, "/home", cookies, seconds), seconds
                ),
                "login": measured(server, lambda: login_count(server, seconds), seconds),
            }
        finally:
            server.stop()


def run(quick: bool) -> list[Comparison | Reading]:
    seconds = 2.0 if quick else 8.0
    rows: list[Comparison | Reading] = []
    bare, bare_cpu = argon2_rate(seconds)
    for kind in available(SQL_KINDS):
        label = LABELS[kind]
        figures = _figures(kind, seconds)
        (health, health_cpu), (page, page_cpu) = figures["health"], figures["home"]
        logins, logins_cpu = figures["login"]
        rows.append(
            Reading(
                f"server: /home [{label}], per CPU",
                1e3 / page_cpu,
                "ms/request",
                0.5,
                f"{page_cpu:.0f} home pages per {WORKERS} CPU-seconds of the server "
                f"({page:.0f}/s wall), /healthz {health_cpu:.0f} ({health:.0f}/s wall); "
                f"ratio {page_cpu / health_cpu:.2f} ({page / health:.2f} wall); "
                f"{WORKERS} workers, {HOME_LANES} connections",
            )
        )
        rows.append(
            Comparison(
                _timing(f"server: code login [{label}], per CPU", logins_cpu, seconds),
                _timing(f"bare argon2id verify x{WORKERS}, per CPU", bare_cpu, seconds),
                1 / 0.9,
            )
        )
        rows.append(
            Reading(
                f"server: code login floor [{label}], per CPU",
                1 + LOGIN_REQUESTS * bare_cpu / health_cpu,
                "x argon2id",
                None,
                f"one argon2id verify and the forms' {LOGIN_REQUESTS} requests at the cost of "
                "/healthz (routing, middleware, no database, no template): what the framework "
                "leaves of the 1.11x target on this machine",
            )
        )
        rows.append(
            Reading(
                f"server: code login [{label}], wall",
                logins / bare,
                "x bare rate",
                None,
                f"{logins:.1f} logins/s against {bare:.1f} bare verifications/s "
                f"({WORKERS} processes), wall clock on the shared machine",
            )
        )
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2 s a figure instead of 8")
    for row in run(parser.parse_args().quick):
        print(row)
