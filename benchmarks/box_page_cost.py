"""What one box page costs in-process, for a deterministic count under valgrind: a SQLite
box (the tests' world, 60 documents), then ``N`` home pages and ``N`` search pages.

Run twice under ``valgrind --tool=callgrind`` with ``N=0`` and ``N=200``
(``PYTHONHASHSEED=0``): the difference of the instruction totals over ``2 N`` is the
instructions of one page (the setup is the same in both runs). Usage:
``python3 benchmarks/box_page_cost.py N [home|search]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.server.box.conftest import make_world  # noqa: E402

from securebox_auth.stores.sql import migrate as store_migrate  # noqa: E402
from securebox_auth.stores.sql.engine import create_engine  # noqa: E402
from securebox_server.box.reading import BoxReader  # noqa: E402
from securebox_server.box.search import BoxSearch  # noqa: E402
from securebox_server.db import migrate  # noqa: E402


def main(n: int, what: str) -> None:
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{home}/box.db"
        engine = create_engine(url)
        store_migrate.upgrade(engine)
        migrate.upgrade(engine)
        engine.dispose()
        world = make_world(url)
        for k in range(60):
            world.publish_sample(label=f"Statement {k}", body=b"%PDF-1.7 " + bytes([k]))
        reader = BoxReader(world.documents, world.box, world.catalogue, cursor_key=bytes(32))
        who, start = world.principal, world.clock.now()
        reader.home(who, None, session_start=start)
        reader.search(who, BoxSearch(label="statement"))
        for _ in range(n):
            if what == "home":
                reader.home(who, None, session_start=start)
            else:
                reader.search(who, BoxSearch(label="statement"))
        world.documents.engine.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "home")
