"""Child processes of the session rotation race (``spawn``: each builds its own engine,
store and service from plain values, as a server process would)."""

from __future__ import annotations

from multiprocessing.synchronize import Barrier
from typing import Any

from securebox_auth.errors import ConcurrentUpdate, NotAuthenticated
from securebox_auth.shell.sessions import SessionService
from securebox_auth.stores.sql.engine import create_engine
from securebox_auth.stores.sql.store import SqlStore


def rotate(
    url: str, audit_key: bytes, session_ids: list[str], barrier: Barrier, results: Any
) -> None:
    """For each session, wait for every worker, then rotate it once."""
    engine = create_engine(url)
    sessions = SessionService(SqlStore(engine, audit_key=audit_key))
    try:
        for round_, session_id in enumerate(session_ids):
            barrier.wait(timeout=120)
            try:
                outcome = "rotated:" + sessions.rotate(session_id)
            except NotAuthenticated:
                outcome = "dead"
            except ConcurrentUpdate:
                outcome = "gave_up"
            results.put((round_, outcome))
    finally:
        engine.dispose()
