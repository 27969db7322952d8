"""Cold runs: the database files dropped from the operating system's page cache, so that the
next read goes to the disk.

SQLite: the database file and its WAL (the process owns them). PostgreSQL: the files of the
current database under ``data_directory`` (needs a superuser connection and read access to the
data directory, as root on the benchmark machine); PostgreSQL's own shared buffers cannot be
emptied without restarting the server, so a cold PostgreSQL read may still find pages there.
Where the files cannot be reached, :func:`drop_os_cache` says so by returning ``False``.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

__all__ = ["drop_os_cache"]

_FILES: dict[str, list[Path]] = {}


def _files(engine: Engine) -> list[Path]:
    key = engine.url.render_as_string(hide_password=True)
    if key in _FILES:
        return _FILES[key]
    if engine.dialect.name == "sqlite":
        base = Path(engine.url.database or "")
        found = [p for p in (base, Path(f"{base}-wal")) if p.exists()]
    else:
        try:
            with engine.connect() as conn:
                root = conn.execute(text("SHOW data_directory")).scalar()
                oid = conn.execute(
                    text("SELECT oid FROM pg_database WHERE datname = current_database()")
                ).scalar()
            folder = Path(str(root)) / "base" / str(oid)
            found = (
                [p for p in folder.iterdir() if p.is_file()] if os.access(folder, os.R_OK) else []
            )
        except (DBAPIError, OSError):
            found = []
    _FILES[key] = found
    return found


def drop_os_cache(engine: Engine) -> bool:
    """Ask the kernel to drop the cached pages of ``engine``'s database files; whether the
    files could be reached."""
    files = _files(engine)
    for path in files:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return bool(files)
