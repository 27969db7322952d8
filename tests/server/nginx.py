"""A real nginx (Debian's ``nginx-light``) running ``docs/deploy/nginx-mtls.conf`` on a free
loopback port in front of an upstream, for the mutual-TLS tests: its server certificate, its
configuration in a temporary folder, started in the foreground and stopped by process id.
Without nginx the tests skip with the reason, except in CI where they fail."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, NoReturn

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = [
    "CONF",
    "PROXY_ADDRESS",
    "free_port",
    "listening",
    "main_config",
    "nginx_binary",
    "running_config",
    "running_nginx",
    "server_certificate",
    "stop",
]

CONF: Final = Path(__file__).parents[2] / "docs" / "deploy" / "nginx-mtls.conf"
PROXY_ADDRESS: Final = "127.0.0.2"  # nginx's proxy_bind; the test's own clients use 127.0.0.1


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"nginx is required in CI: {reason}", pytrace=False)
    print(f"\nnginx tests skipped: {reason}", file=sys.stderr)
    pytest.skip(f"nginx unavailable: {reason}")


def nginx_binary() -> str:
    """nginx's path, or the test skips (fails in CI)."""
    nginx = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if nginx is None:
        _unavailable("nginx is not installed (apt-get install nginx-light)")
    return nginx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_certificate(tmp: Path, now: datetime) -> None:
    """``server.pem`` and ``server.key`` for ``localhost``, self-signed, in ``tmp``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _config(tmp: Path, port: int, upstream: int) -> Path:
    site = CONF.read_text(encoding="utf-8")
    for old, new in (
        ("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
        ("/etc/ssl/securebox/", f"{tmp}/"),
        ("http://127.0.0.1:8000", f"http://127.0.0.1:{upstream}"),
    ):
        assert old in site, f"{CONF} changed shape: {old!r} is gone"
        site = site.replace(old, new)
    return main_config(tmp, site)


def main_config(tmp: Path, site: str, connections: int = 64) -> Path:
    """``tmp/nginx.conf``: the ``http`` block around ``site`` (a site file's text), with the
    pid, logs and temporary folders in ``tmp``."""
    temps = "".join(
        f"    {kind}_temp_path {tmp}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = (
        f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log warn;\nworker_processes 1;\n"
        f"events {{ worker_connections {connections}; }}\n"
        f"http {{\n    access_log off;\n{temps}{site}\n}}\n"
    )
    path = tmp / "nginx.conf"
    path.write_text(main, encoding="utf-8")
    return path


def listening(
    process: subprocess.Popen[bytes], port: int, log: Path, what: str, seconds: float
) -> None:
    """Wait until ``port`` accepts connections; fail with ``log``'s end if ``process`` exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited ({process.returncode}): {log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    pytest.fail(f"{what} did not listen within {seconds:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop ``process`` by its process id (nginx's master stops its worker)."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def running_nginx(nginx: str, tmp: Path, port: int, upstream: int) -> Iterator[None]:
    """nginx on ``port`` in front of ``upstream``, from ``tmp`` (``server.pem``,
    ``server.key``, ``client-ca.pem`` and the CRLs the configuration names)."""
    with running_config(nginx, tmp, _config(tmp, port, upstream), port):
        yield


@contextmanager
def running_config(nginx: str, tmp: Path, config: Path, port: int) -> Iterator[None]:
    """nginx in the foreground on ``config`` (from :func:`main_config`), listening on
    ``port``; stopped by its process id."""
    with (tmp / "nginx.out").open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - the test's own command line
            [nginx, "-c", str(config), "-p", str(tmp), "-e", str(tmp / "error.log"),
             "-g", "daemon off;"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        listening(process, port, tmp / "error.log", "nginx", 10)
        yield
    finally:
        stop(process)
