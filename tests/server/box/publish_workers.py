"""A process publishing the same request as its siblings (spawned by the concurrency tests)."""

from __future__ import annotations

from typing import Any

from securebox_auth.shell.keys import DerivedKeys
from tests.server.box.conftest import C1, C2, make_world


def publish_same(url: str, master: str, barrier: Any, results: Any) -> None:
    world = make_world(url, keys=DerivedKeys.from_hex(master), seed=False)
    barrier.wait()
    answer = world.publish_sample(companies=[C1, C2], key="same-key", body=b"same body")
    results.put(([(s.value, o.value, d) for s, o, d in answer.results], answer.replayed))
    world.documents.engine.dispose()
