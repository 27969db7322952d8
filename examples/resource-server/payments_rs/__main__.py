"""``python3 -m payments_rs migrate | serve | demo``.

* ``migrate``: the library's schema in ``PAYMENTS_DATABASE_URL`` (where consumed assertion
  ids and their audit chain are kept); run once before ``serve``, not by every worker.
* ``serve [--host H] [--port P] [--workers N]``: ``migrate``, then uvicorn with N worker
  processes, each reading the ``PAYMENTS_*`` settings.
* ``demo [--once]``: a reference server with the demo's data, this service beside it (two
  workers), and a walk-through of a transfer over HTTP: a 401 step-up challenge, the
  step-up on the reference server, the transfer accepted, the replay refused. Both servers
  keep running until Ctrl-C (``--once``: stop after the walk-through).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from securebox_auth.shell.sql import open_sql_store

from payments_rs.reference import (
    PortalClient,
    ReferenceServer,
    free_port,
    reference_server,
    stop_group,
    wait_ready,
)
from payments_rs.settings import Settings, read_audit_key, write_audit_key

PAYEE = "FR7630006000011234567890189"


def migrate() -> None:
    settings = Settings.from_environment()
    key = read_audit_key(settings.audit_key_file)
    open_sql_store(settings.database_url, audit_key=key, migrate=True).engine.dispose()


def serve(host: str, port: int, workers: int) -> int:
    migrate()
    command = [sys.executable, "-m", "uvicorn", "payments_rs.app:app_from_environment"]
    command += ["--factory", "--host", host, "--port", str(port), "--workers", str(workers)]
    command += ["--no-server-header", "--log-level", "warning"]
    return subprocess.call(command)  # noqa: S603 - our interpreter, fixed arguments


def _show(what: str, answer: httpx.Response) -> None:
    print(f"\n{what}\n  -> {answer.status_code}")
    challenge = answer.headers.get("www-authenticate")
    if challenge:
        print(f"  WWW-Authenticate: {challenge}")
    print("  " + json.dumps(answer.json(), ensure_ascii=False))


def walk_through(reference: ReferenceServer, payments: str) -> None:
    portal = PortalClient(reference)
    transfer = {
        "client_id": "123456789",
        "user_number": "01",
        "amount": "150.00",
        "currency": "EUR",
        "payee": PAYEE,
    }
    try:
        token = portal.login()
        print(f"user 01 logged in on the reference server {reference.base} (code only)")
        first = portal.assertion(token)
        with httpx.Client(base_url=payments, timeout=30) as api:

            def send(what: str, assertion: str, body: dict[str, str]) -> None:
                bearer = {"Authorization": f"Bearer {assertion}"}
                _show(what, api.post("/transfers", json=body, headers=bearer))

            send("POST /transfers with the login's assertion", first, transfer)
            token = portal.step_up_transfer(token, "150.00", "EUR", PAYEE)
            print(
                "\nstep-up on the reference server: user 01's certificate signed the"
                " challenge bound to 150.00 EUR and the payee"
            )
            second = portal.assertion(token)
            tampered = {**transfer, "amount": "1500.00"}
            send("POST /transfers, amount changed to 1500.00", second, tampered)
            send("POST /transfers, the approved transfer", second, transfer)
            send("POST /transfers again with the same assertion", second, transfer)
    finally:
        portal.close()


def demo(once: bool) -> int:
    home = Path(tempfile.mkdtemp(prefix="payments-rs-demo-"))
    (home / "reference").mkdir()
    with reference_server(home / "reference") as reference:
        key = home / "audit.key"
        write_audit_key(key)
        port = free_port()
        env = {
            **os.environ,
            "PAYMENTS_ISSUER": reference.issuer,
            "PAYMENTS_JWKS_URL": f"{reference.base}/api/v1/.well-known/jwks.json",
            "PAYMENTS_DATABASE_URL": f"sqlite:///{home / 'payments.db'}",
            "PAYMENTS_AUDIT_KEY_FILE": str(key),
        }
        command = [sys.executable, "-m", "payments_rs", "serve", "--port", str(port)]
        process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
            [*command, "--workers", "2"], env=env, start_new_session=True
        )
        try:
            payments = f"http://127.0.0.1:{port}"
            wait_ready(f"{payments}/healthz", process)
            print(f"reference server {reference.base} (issuer {reference.issuer})")
            print(f"payments API {payments}")
            walk_through(reference, payments)
            if not once:
                print("\nboth servers run until Ctrl-C")
                process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            stop_group(process)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m payments_rs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create the tables in PAYMENTS_DATABASE_URL")
    run = commands.add_parser("serve", help="migrate, then serve with uvicorn")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8100)
    run.add_argument("--workers", type=int, default=2)
    walk = commands.add_parser("demo", help="a reference server, this service and a walk-through")
    walk.add_argument("--once", action="store_true", help="stop after the walk-through")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        migrate()
        return 0
    if args.command == "serve":
        return serve(args.host, args.port, args.workers)
    return demo(args.once)


if __name__ == "__main__":
    sys.exit(main())
