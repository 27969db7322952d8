"""The core works without the ``sql`` extra: nothing outside ``stores/sql`` imports
SQLAlchemy, Alembic or psycopg, and ``securebox`` still starts (its ``db`` commands say
which extra they need)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import importlib, importlib.abc, pkgutil, sys

    BLOCKED = ("sqlalchemy", "alembic", "psycopg", "psycopg_pool")

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked: {name}")
            return None

    sys.meta_path.insert(0, Block())
    import securebox_auth
    leaked, skipped = [], []
    for info in pkgutil.walk_packages(securebox_auth.__path__, "securebox_auth."):
        name = info.name
        sql = name.startswith("securebox_auth.stores.sql.")
        if sql and name != "securebox_auth.stores.sql.cli":
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:
            (leaked if "blocked:" in str(exc) else skipped).append(f"{name}: {exc}")
    from securebox_auth.cli import main
    code = main(["db", "check", "--url", "sqlite://"])
    print("LEAKED", leaked)
    print("CODE", code)
    """
)


def test_the_core_imports_without_sql_libraries() -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "LEAKED []" in done.stdout, done.stdout
    assert "CODE 2" in done.stdout
    assert "pip install 'securebox[sql]'" in done.stderr
