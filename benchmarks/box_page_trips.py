"""In-process cost of the box's pages on the benchmark's PostgreSQL catalogue (1,000,000
documents, or 100,000 with ``--quick``): for the users of ``bench_box_listing.py``, the
database round trips of one home page and one search page (counted at the driver: libpq's
protocol trace, ``tests/server/box/round_trips.py``) and the median time of each over
``REPEAT`` calls. The round trips are exact; the times depend on the machine's load."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Final

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_box_listing import _ADMIN, FULL_DOCUMENTS, QUICK_DOCUMENTS, USERS  # noqa: E402
from box_world import load_box_world  # noqa: E402
from sql_world import build_world  # noqa: E402
from tests.server.box.round_trips import counting  # noqa: E402

from securebox_auth import Principal  # noqa: E402
from securebox_auth.crypto.hashing import PROFILE_TESTING  # noqa: E402
from securebox_server.box.reading import BoxReader  # noqa: E402
from securebox_server.box.samples import sample_pdf  # noqa: E402
from securebox_server.box.search import BoxSearch  # noqa: E402
from securebox_server.settings import load_settings  # noqa: E402
from securebox_server.wiring import build_documents, build_securebox  # noqa: E402

REPEAT: Final = 200
SEARCH: Final = "releve"


def main(quick: bool) -> None:
    world = build_world(QUICK_DOCUMENTS if quick else FULL_DOCUMENTS)
    body = sample_pdf(title="Relevé de compte", lines=("Madame, Monsieur,",))
    box_world = load_box_world(world, _ADMIN, body)
    with tempfile.TemporaryDirectory() as home:
        path = Path(home) / "settings.toml"
        path.write_text(
            f'database_url = "{box_world.url}"\nmaster_key_file = "{box_world.key_file}"\n',
            encoding="utf-8",
        )
        settings = load_settings({}, path)
        box = build_securebox(settings, argon2=PROFILE_TESTING)
        documents = build_documents(settings, box)
        assert documents is not None
        reader = BoxReader(documents, box, documents.catalogue, cursor_key=bytes(32))
        start = box.clock.now()
        for who, key in USERS.items():
            principal = Principal.parse(*key.split(":"))
            pages: dict[str, Callable[[], object]] = {
                "home": partial(reader.home, principal, None, session_start=start),
                "search": partial(reader.search, principal, BoxSearch(label=SEARCH)),
            }
            with counting(documents.engine) as trips:
                for name, page in pages.items():
                    for _ in range(10):
                        page()
                    trips.take()
                    page()
                    found = trips.take()
                    times = []
                    for _ in range(REPEAT):
                        t = time.perf_counter()
                        page()
                        times.append(time.perf_counter() - t)
                    print(
                        f"{who:8} {name:7} round trips {found[0]} (transaction control "
                        f"{found[1]}), median {statistics.median(times) * 1e3:.2f} ms"
                    )


if __name__ == "__main__":
    main("--quick" in sys.argv)
