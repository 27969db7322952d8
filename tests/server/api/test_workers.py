"""Several uvicorn workers on the same settings publish one JWKS and continue each other's
flows (the keys come from the master key file, not from each process)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from securebox_server.wiring import write_master_key

WORKERS = 3
SRC = Path(__file__).resolve().parents[3] / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_every_worker_serves_the_same_jwks_and_flows(tmp_path: Path, migrated_sqlite: Path) -> None:
    key = tmp_path / "master.key"
    write_master_key(key)
    db = tmp_path / "server.db"
    db.write_bytes(migrated_sqlite.read_bytes())
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path("src").resolve()), os.environ.get("PYTHONPATH", "")]
        ),
        "SECUREBOX_DATABASE_URL": f"sqlite:///{db}",
        "SECUREBOX_MASTER_KEY_FILE": str(key),
        "SECUREBOX_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    command = [
        sys.executable, "-m", "uvicorn", "securebox_server.factory:app_from_environment",
        "--factory", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS),
        "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603
    try:
        base = f"http://127.0.0.1:{port}"
        # a new connection per request, so the kernel spreads them over the workers
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=base, timeout=10, limits=fresh) as http:
            deadline = time.monotonic() + 60  # three workers start slowly on a busy machine
            while True:
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not become ready in 60 s"
                assert server.poll() is None, "the server exited"
                time.sleep(0.05)
            documents = {http.get("/api/v1/.well-known/jwks.json").text for _ in range(30)}
            assert len(documents) == 1
            keys = jwt.PyJWKSet.from_json(documents.pop())
            assert [k.key_id for k in keys.keys] == ["a-m1"]
            flow = http.post(
                "/api/v1/login/flows", json={"client_id": "123456789", "user_number": "01"}
            ).json()
            for _ in range(10):
                again = http.get(f"/api/v1/login/flows/{flow['id']}")
                assert again.status_code == 200, again.text
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
