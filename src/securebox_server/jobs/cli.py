"""``securebox jobs run`` (one pass), ``securebox jobs worker`` (the long-running loop) and
``securebox jobs bounce`` (record a bounce or a failed delivery report), imported lazily by
:mod:`securebox_auth.cli.jobs`.

The worker stops on SIGTERM or SIGINT: it finishes the digest or task it is on, gives its
leases back and exits 0 (rows it had claimed but not started stay leased until their lease
runs out, then any worker sends them).
"""

from __future__ import annotations

import argparse
import logging.config
import os
import signal
import threading
from datetime import timedelta
from pathlib import Path

from securebox_auth.shell.securebox import Securebox
from securebox_server.jobs.outbox import Outbox
from securebox_server.jobs.runner import Jobs
from securebox_server.jobs.wiring import DocumentClocks, build_jobs, worker_id
from securebox_server.logs import logging_config
from securebox_server.settings import Settings, load_settings
from securebox_server.wiring import build_documents, build_securebox

__all__ = ["bounce", "run", "worker"]


def _documents(settings: Settings, securebox: Securebox) -> DocumentClocks | None:
    """The box's document store, when it has the expiry clocks."""
    documents = build_documents(settings, securebox)
    return documents if isinstance(documents, DocumentClocks) else None


def _jobs(args: argparse.Namespace) -> Jobs:
    extra = {"SECUREBOX_SETTINGS": str(Path(args.settings).resolve())} if args.settings else {}
    settings = load_settings({**os.environ, **extra})
    securebox = build_securebox(settings)
    jobs = build_jobs(
        settings,
        securebox,
        _documents(settings, securebox),
        worker=worker_id(),
        lease=timedelta(seconds=args.lease),
    )
    jobs.sender.batch = args.batch
    return jobs


def run(args: argparse.Namespace) -> int:
    jobs = _jobs(args)
    try:
        report = jobs.run_once(force=True)
    finally:
        jobs.engine.dispose()
    for line in report.lines():
        print(line)
    return 2 if report.failed else 0


def worker(args: argparse.Namespace) -> int:
    logging.config.dictConfig(logging_config("info"))  # JSON lines, as the server's
    jobs = _jobs(args)
    stopping = threading.Event()

    def ask_to_stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, ask_to_stop)
    signal.signal(signal.SIGINT, ask_to_stop)
    print(f"securebox jobs worker {jobs.leases.holder}: every {args.interval} s", flush=True)
    try:
        passes = jobs.work(args.interval, stopping.is_set, stopping.wait)
    finally:
        jobs.engine.dispose()
    print(f"securebox jobs worker: stopped after {passes} passes", flush=True)
    return 0


def bounce(args: argparse.Namespace) -> int:
    jobs = _jobs(args)
    try:
        outbox = Outbox(jobs.engine, jobs.leases.holder)
        done = outbox.record_bounce(args.message_id, args.reason)
    finally:
        jobs.engine.dispose()
    print(f"{done} notifications marked bounced")
    return 0 if done else 1
