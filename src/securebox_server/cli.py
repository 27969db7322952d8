"""``securebox serve`` and ``securebox demo`` (imported lazily by ``securebox_auth.cli``)."""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from securebox_auth.errors import ConfigurationError
from securebox_server.demo_admin import NEW_USER, check_readme_admin
from securebox_server.demo_box import BAKERY_CONTACT
from securebox_server.demo_box_plan import COMPANIES
from securebox_server.demo_cap import check_cap_login, demo_pin
from securebox_server.demo_data import DEMO_USERS, prepare, seed
from securebox_server.settings import load_settings
from securebox_server.wiring import migrate_database

__all__ = ["demo", "serve"]


def _uvicorn(host: str, port: int, workers: int, log_level: str = "info") -> list[str]:
    """uvicorn on the application factory, each worker on a socket of its own
    (:mod:`securebox_server.serving`, ADR 0055), logging JSON lines from ``log_level``."""
    return [
        sys.executable,
        "-m",
        "securebox_server.serving",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        log_level,
    ]


#: How long ``demo --check`` waits for the server to answer ``/readyz``.
READY_SECONDS = 60
#: Seconds between two passes of the demo's jobs worker (new documents are told quickly).
DEMO_JOBS_INTERVAL = 5


def _jobs_worker(interval: int) -> list[str]:
    """``securebox jobs worker``: the demo's notifications, expiry and purge."""
    return [
        sys.executable,
        "-m",
        "securebox_auth.cli",
        "jobs",
        "worker",
        "--interval",
        str(interval),
    ]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the worker finishes its digest, uvicorn its requests), then SIGKILL."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _environment(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    if int(extra.get("_WORKERS", "1")) > 1 and "PROMETHEUS_MULTIPROC_DIR" not in env:
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="securebox-metrics-")
    env.pop("_WORKERS", None)
    return env


def serve(args: argparse.Namespace) -> int:
    """Check the settings here (a wrong file fails before a port is bound), then run
    uvicorn; every worker reads the same settings from the environment."""
    extra = {"_WORKERS": str(args.workers)}
    if args.settings:
        extra["SECUREBOX_SETTINGS"] = str(Path(args.settings).resolve())
    settings = load_settings({**os.environ, **extra})
    migrate_database(settings.database_url)  # once, before the workers (which find it done)
    # our own interpreter and module, arguments from argparse (ints and a resolved path)
    return subprocess.call(  # noqa: S603
        _uvicorn(args.host, args.port, args.workers, getattr(args, "log_level", "info")),
        env=_environment(extra),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _check(base: str, cap_pin: str | None = None, home: Path | None = None) -> int:
    """GET /readyz and the login page, log in with the first demo user's code: the home
    page shows the demo's box (its companies); with ``home`` (the demo's folder, its
    certificate key), the README's administration demo (:mod:`.demo_admin`)."""
    with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as http:
        # the jobs worker starts beside the server: on a loaded machine both take a while
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                if http.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                print("demo check: the server did not become ready", file=sys.stderr)
                return 1
            time.sleep(0.1)
        user = DEMO_USERS[0]
        token = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
        page = http.get("/login")
        page = http.post(
            "/login", data={"client_id": user.client, "csrf_token": token.findall(page.text)[0]}
        )
        http.post(
            "/login/user",
            data={
                "client_id": user.client,
                "user_number": user.user,
                "csrf_token": token.findall(page.text)[0],
            },
        )
        page = http.get("/login/code")
        done = http.post(
            "/login/code", data={"code": user.code, "csrf_token": token.findall(page.text)[0]}
        )
        if done.status_code != 200 or user.client not in done.text or "/logout" not in done.text:
            print(f"demo check: login failed ({done.status_code})", file=sys.stderr)
            return 1
        if not all(name in done.text for _, name in COMPANIES):
            print("demo check: the home page does not show the demo's box", file=sys.stderr)
            return 1
    print(f"demo check: ready, login page, code login of {user.client}/{user.user}: ok")
    print("demo check: the home page shows the demo's box: ok")
    if not _digest_sent(base):
        print("demo check: the jobs worker sent no digest to the outbox", file=sys.stderr)
        return 1
    print("demo check: the jobs worker sent the new-document digests to /demo/outbox: ok")
    if cap_pin is not None:
        cap = DEMO_USERS[3]
        with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as http:
            if not check_cap_login(http, cap.client, cap.user, cap_pin):
                print("demo check: CAP login through the virtual reader failed", file=sys.stderr)
                return 1
        print(f"demo check: CAP login of {cap.client}/{cap.user} (virtual reader): ok")
    if home is not None:
        failed = check_readme_admin(base, home)
        if failed is not None:
            print(f"demo check: the README's administration demo: {failed}", file=sys.stderr)
            return 1
        print(
            f"demo check: 01 added collaborator {NEW_USER} with rights on one company and one"
            " theme (certificate step-up, code by SMS to /demo/outbox); the collaborator logged"
            " in and sees exactly those documents: ok"
        )
    return 0


def _digest_sent(base: str, seconds: float = 30) -> bool:
    """Does ``/demo/outbox`` show a digest of the box (the jobs worker's first pass): one
    to the bakery's notification address, which is told of every new document?"""
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=10) as http:
        while time.monotonic() < deadline:
            if BAKERY_CONTACT in http.get("/demo/outbox").text:
                return True
            time.sleep(0.25)
    return False


def _public_host(host: str) -> str:
    return "localhost" if host == "127.0.0.1" else host


def demo(args: argparse.Namespace) -> int:
    if args.dir is not None and (not args.dir or not Path(args.dir).is_dir()):
        raise ConfigurationError("--dir: an existing directory")
    home = Path(args.dir or tempfile.mkdtemp(prefix="securebox-demo-"))
    database = home / "demo.db"
    if database.exists():
        database.unlink()
    port = _free_port() if args.check else args.port
    host = "127.0.0.1" if args.check else args.host
    extra = {
        "SECUREBOX_DATABASE_URL": f"sqlite:///{database}",
        "SECUREBOX_MASTER_KEY_FILE": str(home / "master.key"),
        # localhost rather than the loopback address: browsers allow passkeys there
        "SECUREBOX_PUBLIC_URL": f"http://{_public_host(host)}:{port}",
        "SECUREBOX_DEMO": "true",
        "SECUREBOX_CAP_ISSUER_FILE": str(home / "cap-issuer-keys.json"),
        "SECUREBOX_DEMO_CARDS_DIR": str(home / "cards"),
    }
    extra.update(prepare(home))
    if args.fast or args.check:
        extra["SECUREBOX_DEMO_FAST"] = "1"
    lines = seed(extra, fast=args.fast or args.check, folder=home)
    if not args.check:
        print(f"securebox demo: http://{_public_host(host)}:{port}/login  (database {database})")
        for line in lines:
            print("  " + line)
    env = _environment(extra)
    # warnings and errors only: the terminal shows the demo's instructions
    process = subprocess.Popen(_uvicorn(host, port, 1, "warning"), env=env)  # noqa: S603
    # the jobs worker sends the box's notifications to the demo outbox (/demo/outbox)
    worker = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        _jobs_worker(DEMO_JOBS_INTERVAL),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if args.check else None,
    )
    try:
        if args.check:
            return _check(f"http://{host}:{port}", demo_pin(lines), home)
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(worker)
        _stop(process)
