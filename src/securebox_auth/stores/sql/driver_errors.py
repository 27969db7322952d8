"""What a database driver's error means to the stores: contention (try again), a connection
the server closed (replace it), no room left (507). Each accepts the driver's own error
or SQLAlchemy's wrapper of one; PostgreSQL's are told by SQLSTATE, SQLite's by their
message or result code.
"""

from __future__ import annotations

import errno
from typing import Any, Final

from sqlalchemy.exc import DBAPIError

__all__ = ["is_contention", "is_disconnection", "is_storage_full"]

# PostgreSQL: serialization failure, deadlock, lock not available, query cancelled (timeout).
_PG_CONTENTION: Final = frozenset({"40001", "40P01", "55P03", "57014"})


def is_contention(error: BaseException) -> bool:
    """Did the database give up because of other transactions (busy, deadlock, timeout)?
    Accepts a driver error or SQLAlchemy's wrapper of one."""
    orig = error.orig if isinstance(error, DBAPIError) else error
    if getattr(orig, "sqlstate", None) in _PG_CONTENTION:
        return True
    message = str(orig).lower()
    return "database is locked" in message or "database is busy" in message


#: PostgreSQL: the server ended the backend (admin, crash shutdown) or cannot take it now.
_PG_GONE: Final = frozenset({"57P01", "57P02", "57P03"})


def is_disconnection(error: BaseException, driver: Any, operational: type[Exception]) -> bool:
    """Did a PostgreSQL connection die under a read? libpq marked it broken; or the driver
    saw its socket close before libpq did (``operational``, the DBAPI's
    ``OperationalError``, without a SQLSTATE: "connection socket closed"); or the server
    said it ended the backend. Never a query cancelled by a timeout (``57014``)."""
    if bool(getattr(driver, "broken", False)):
        return True
    return isinstance(error, operational) and getattr(error, "sqlstate", None) in {None, *_PG_GONE}


#: A filesystem with no room left: out of space, or over a quota.
_NO_ROOM: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
#: SQLite's primary result code ``SQLITE_FULL`` ("database or disk is full").
_SQLITE_FULL: Final = 13
#: PostgreSQL's ``disk_full`` (class 53, insufficient resources).
_PG_DISK_FULL: Final = "53100"


def is_storage_full(error: BaseException) -> bool:
    """Did a write fail for want of room (the disk or a quota is full)? Accepts an
    :class:`OSError`, a driver error, or SQLAlchemy's wrapper of one."""
    orig = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(orig, OSError) and orig.errno in _NO_ROOM:
        return True
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == _SQLITE_FULL:
        return True
    return getattr(orig, "sqlstate", None) == _PG_DISK_FULL
