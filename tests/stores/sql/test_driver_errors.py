"""stores/sql/driver_errors.py: which driver errors are contention, a dead connection or a
full disk. A dead PostgreSQL connection is replaced and the read tried once more; a
query cancelled by its timeout is not a dead connection (it would wait twice)."""

from __future__ import annotations

import errno
from types import SimpleNamespace

import psycopg
import pytest
from psycopg import errors

from securebox_auth.stores.sql.driver_errors import (
    is_contention,
    is_disconnection,
    is_storage_full,
)

ALIVE = SimpleNamespace(broken=False)
BROKEN = SimpleNamespace(broken=True)


@pytest.mark.parametrize(
    ("error", "driver", "dead"),
    [
        # the driver saw the socket close before libpq did (seen under load in CI)
        (psycopg.OperationalError("connection socket closed"), ALIVE, True),
        (errors.AdminShutdown("terminating connection due to administrator command"), ALIVE, True),
        (errors.CrashShutdown(), ALIVE, True),
        (errors.CannotConnectNow(), ALIVE, True),
        (ValueError("whatever"), BROKEN, True),  # libpq marked it broken
        (errors.QueryCanceled("canceling statement due to statement timeout"), ALIVE, False),
        (errors.LockNotAvailable(), ALIVE, False),
        (errors.UndefinedTable(), ALIVE, False),
        (ValueError("whatever"), ALIVE, False),
    ],
)
def test_a_dead_connection_is_told_from_other_failures(
    error: BaseException, driver: object, dead: bool
) -> None:
    assert is_disconnection(error, driver, psycopg.OperationalError) is dead


def test_contention_and_a_full_disk() -> None:
    assert is_contention(errors.SerializationFailure())
    assert is_contention(errors.QueryCanceled())
    assert not is_contention(errors.AdminShutdown())
    assert is_storage_full(OSError(errno.ENOSPC, "no space"))
    assert is_storage_full(errors.DiskFull())
    assert not is_storage_full(errors.AdminShutdown())
