"""The digital box's listing through HTTP: the newest 20 documents and a search page among
1,000,000 documents (``box_world.py``: ``sql_world``'s bank as box documents), served by a
real ``securebox serve --workers 2`` on PostgreSQL, p50 and p99 latencies, against the same
server's bare endpoint ``/healthz`` (routing, middleware, JSON, no database) measured in the
same run.

Each request is timed by the load client from the write of the request to the last byte of
the answer, on ``LANES`` keep-alive connections at once (one session cookie each, a user's
session opened through the login forms). The endpoints are measured in turn, in ``SLICES``
short slices each, so that a burst of load from elsewhere hits them alike. Users: ``whole``
sees the whole portfolio of a large subscription (about 50,000 documents among the
1,000,000); ``partial`` some companies and themes of another large subscription.

Reported as measured (the issue sets no figure; its target text: "the newest 20 and a
search page among 1,000,000 documents through the HTTP API (p50 and p99), against the same
server's bare endpoint"). With the API, the home page (``/home``: the same newest 20 in
HTML, the count of new documents, the visit recorded) is measured as well, as a reference.
``--quick``: 100,000 documents, 1 s an endpoint.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

import httpx
from backends import available
from bench_server import RAISED, SOURCE, TOKEN, Server, _free_port
from box_world import BoxWorld, load_box_world
from harness import Comparison, Reading, Timing, percentile
from sql_world import build_world

from securebox_auth import Operator, Principal
from securebox_auth.crypto.hashing import PROFILE_TESTING
from securebox_auth.errors import WeakCode

FULL_DOCUMENTS: Final = 1_000_000
QUICK_DOCUMENTS: Final = 100_000
WORKERS: Final = 2
LANES: Final = 4
SLICES: Final = 5
USERS: Final = {"whole": "100000003:02", "partial": "100000001:05"}
_ADMIN: Final = os.environ.get(
    "SECUREBOX_BENCH_POSTGRES_URL", "postgresql://127.0.0.1:5432/postgres"
)
LISTING_LIMITS: Final = ("api.documents",)
#: The listing endpoints, tried in this order: the JSON API, else the HTML pages.
API_NEWEST: Final = "/api/v1/documents?limit=20"
API_SEARCH: Final = "/api/v1/documents?limit=20&label=releve&from=2025-03-01&to=2026-03-01"
PAGE_NEWEST: Final = "/home"
PAGE_SEARCH: Final = "/documents?label=releve&from=2025-03-01&to=2026-03-01"


def _raised() -> str:
    """The listing's own request limits raised, where this version of the server has them:
    what they cost is measured, not what they refuse."""
    from securebox_server.rate_limits.limiter import DEFAULT_LIMITS  # noqa: PLC0415

    return "".join(
        f'"{name}" = "10000000/10 seconds"\n' for name in LISTING_LIMITS if name in DEFAULT_LIMITS
    )


class BoxServer(Server):
    """``securebox serve`` on the cached box database; the measured users get a code
    (a one-time code from the back office, changed) on every run."""

    def __init__(self, world: BoxWorld, home: Path) -> None:
        from securebox_server.settings import load_settings  # noqa: PLC0415
        from securebox_server.wiring import build_securebox  # noqa: PLC0415

        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        settings_file = home / "settings.toml"
        settings_file.write_text(
            f'database_url = "{world.url}"\nmaster_key_file = "{world.key_file}"\n'
            f'public_url = "{self.base}"\n[rate_limits]\n{RAISED}{_raised()}',
            encoding="utf-8",
        )
        settings = load_settings({}, settings_file)
        self.box = build_securebox(settings, argon2=PROFILE_TESTING)
        self.codes: dict[Principal, str] = {}
        self.users = [self._code(Principal.parse(*key.split(":"))) for key in USERS.values()]
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

    def _code(self, principal: Principal) -> Principal:
        """A new code for ``principal`` (the cached database remembers the previous ones,
        and a code may not come back)."""
        box = self.box
        while True:
            one_time = box.codes.regenerate_code(Operator("bench"), principal)
            code = f"{secrets.randbelow(10**8):08d}"
            try:
                box.codes.change_code(
                    principal.client_id.value, principal.user_number.value, one_time.reveal(), code
                )
            except WeakCode:
                continue
            break
        self.codes[principal] = code
        box.store.commit([box.factors.renewal_change(principal, "web", box.clock.now())], [])
        return principal

    def session_cookie(self, principal: Principal) -> str:
        """A session of ``principal``'s, opened through the login forms."""
        from securebox_server.web.cookies import CookieNames  # noqa: PLC0415

        names = CookieNames(secure=False)
        with httpx.Client(base_url=self.base, timeout=60) as http:
            page = http.get("/login")
            form = {
                "client_id": principal.client_id.value,
                "user_number": principal.user_number.value,
                "csrf_token": TOKEN.findall(page.text)[0],
            }
            http.post("/login/user", data=form)
            page = http.get("/login/code")
            answer = {"code": self.codes[principal], "csrf_token": TOKEN.findall(page.text)[0]}
            http.post("/login/code", data=answer)
            session = http.cookies.get(names.session)
        if not session:
            raise RuntimeError("the login did not open a session")
        return f"{names.session}={session}"


# ---- the load client -----------------------------------------------------------------------


async def _lane(port: int, request: bytes, until: float, latencies: list[float]) -> None:
    """Requests on one keep-alive connection until ``until``, each one timed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if length is None:
                raise RuntimeError("no content-length")
            await reader.readexactly(int(length.group(1)))
            latencies.append(time.perf_counter() - start)
    finally:
        writer.close()


def latencies(port: int, paths: dict[str, str], cookies: list[str], seconds: float) -> dict[
    str, list[float]
]:  # fmt: skip
    """Each path's request latencies over ``seconds`` each, in ``SLICES`` slices taken in
    turn (0.2 s of untimed requests per path warm the connections up first)."""
    found: dict[str, list[float]] = {name: [] for name in paths}

    def request(path: str, cookie: str) -> bytes:
        return (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n"
        ).encode()

    async def run() -> None:
        for path in paths.values():
            until = time.perf_counter() + 0.2
            await asyncio.gather(*(_lane(port, request(path, c), until, []) for c in cookies))
        for _ in range(SLICES):
            for name, path in paths.items():
                until = time.perf_counter() + seconds / SLICES
                lanes = [_lane(port, request(path, c), until, found[name]) for c in cookies]
                await asyncio.gather(*lanes)

    asyncio.run(run())
    return found


def _routes(server: Server, cookie: str) -> tuple[str, str, str]:
    """(kind, newest path, search path): the JSON API when it answers, else the pages."""
    with httpx.Client(base_url=server.base, timeout=60) as http:
        name, value = cookie.split("=", 1)
        http.cookies.set(name, value)
        if http.get(API_NEWEST).status_code == 200:
            return "API", API_NEWEST, API_SEARCH
        if http.get(PAGE_SEARCH).status_code == 200:
            return "pages", PAGE_NEWEST, PAGE_SEARCH
    raise RuntimeError("neither GET /api/v1/documents nor GET /documents answers 200")


def _rows(
    label: str, found: dict[str, list[float]], baseline: str, paths: dict[str, str]
) -> list[Comparison | Reading]:
    base = found[baseline]
    base_50, base_99 = percentile(base, 0.5), percentile(base, 0.99)
    rows: list[Comparison | Reading] = []
    for name, samples in found.items():
        if name == baseline:
            continue
        p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
        rows.append(
            Comparison(
                Timing(f"{name} [{label}], p50", p50, len(samples), 1),
                Timing(f"/healthz p50 ({len(base)} requests)", base_50, len(base), 1),
                float("inf"),
            )
        )
        rows.append(
            Reading(
                f"{name} [{label}], p99",
                p99 * 1e3,
                "ms",
                None,
                f"GET {paths[name]}: p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms over "
                f"{len(samples)} requests; /healthz p50 {base_50 * 1e3:.2f} ms, p99 "
                f"{base_99 * 1e3:.2f} ms; p99 ratio {p99 / base_99:.2f}; "
                f"{WORKERS} workers, {LANES} connections",
            )
        )
    return rows


def run(quick: bool = False) -> list[Comparison | Reading]:
    if "postgresql" not in available(("postgresql",)):
        return []
    from securebox_server.box.samples import sample_pdf  # noqa: PLC0415

    documents = QUICK_DOCUMENTS if quick else FULL_DOCUMENTS
    seconds = 1.0 if quick else 10.0
    world = build_world(documents)
    body = sample_pdf(title="Relevé de compte", lines=("Madame, Monsieur,",))
    box_world = load_box_world(world, _ADMIN, body)
    tag = f"PostgreSQL, {documents // 1000}k docs" + (", quick" if quick else "")
    if box_world.built_s:
        print(f"    (box world of {documents:,} documents built in {box_world.built_s:.1f} s)")
    rows: list[Comparison | Reading] = []
    with tempfile.TemporaryDirectory(prefix="securebox-bench-box-") as home:
        server = BoxServer(box_world, Path(home))
        try:
            for who, principal in zip(USERS, server.users, strict=True):
                cookies = [server.session_cookie(principal) for _ in range(LANES)]
                kind, newest, search = _routes(server, cookies[0])
                paths = {
                    "/healthz": "/healthz",
                    f"box {kind}: newest 20, {who}": newest,
                    f"box {kind}: search page, {who}": search,
                }
                if kind == "API":  # the home page as well (issue 19 will target it)
                    paths[f"(reference) box page: /home, {who}"] = PAGE_NEWEST
                found = latencies(server.port, paths, cookies, seconds)
                rows += _rows(tag, found, "/healthz", paths)
        finally:
            server.stop()
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="100,000 documents, short slices")
    for row in run(parser.parse_args().quick):
        print(row)
