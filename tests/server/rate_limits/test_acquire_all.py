""":meth:`SqlRateLimitStorage.acquire_all` against a model, on SQLite and PostgreSQL.

The two databases decide differently: PostgreSQL in one SQL statement sent with the locks
in a pipeline (``_DECIDE_PG``), SQLite in Python (:func:`decide`). Hypothesis draws batches
of layers (shared keys, takes and tests, ``unless`` layers), forgotten keys and waits; the
storage must answer what a list of expiry times per key answers, and hold the same live
entries afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from securebox_auth.clock import FixedClock
from securebox_server.db.schema import RATE_LIMIT_ENTRIES
from securebox_server.rate_limits.storage import Layer, SqlRateLimitStorage, _digest
from tests.shell.portal import T0

KEYS = ("a", "b", "known")

layers = st.builds(
    Layer,
    key=st.sampled_from(KEYS),
    limit=st.integers(1, 2),
    expiry=st.sampled_from([5, 30]),
    take=st.booleans(),
    unless_present=st.booleans(),
)
batches = st.lists(
    st.tuples(
        st.lists(layers, max_size=5),
        st.lists(st.sampled_from(KEYS), max_size=2),  # forget
        st.none() | st.sampled_from(KEYS),  # unless
        st.integers(0, 12),  # seconds to wait afterwards
    ),
    min_size=1,
    max_size=12,
)


@dataclass
class Model:
    """Each key's live entries as their expiry times."""

    entries: dict[str, list[float]] = field(default_factory=dict)

    def live(self, key: str, now: float) -> list[float]:
        return [at for at in self.entries.get(key, []) if at > now]

    def acquire(
        self, batch: list[Layer], forget: list[str], unless: str | None, now: float
    ) -> tuple[dict[int, float], bool]:
        for key in forget:
            self.entries.pop(key, None)
        present = unless is not None and bool(self.live(unless, now))
        active = [
            (i, layer) for i, layer in enumerate(batch) if not (present and layer.unless_present)
        ]
        refused = {}
        for i, layer in active:
            taken = sum(1 for _, other in active if other.key == layer.key and other.take)
            live = self.live(layer.key, now)
            if len(live) + max(taken, 1) > layer.limit:
                refused[i] = min(live, default=now)
        if not refused:
            for _, layer in active:
                if layer.take:
                    self.entries.setdefault(layer.key, []).append(now + layer.expiry)
        return refused, present


def _live(engine: Engine, now: float) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(RATE_LIMIT_ENTRIES.c.key, sa.func.count())
            .where(RATE_LIMIT_ENTRIES.c.expires_at > now)
            .group_by(RATE_LIMIT_ENTRIES.c.key)
        )
        return {str(key): int(count) for key, count in rows}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches)
def test_acquire_all_answers_as_the_model(
    limits_engine: Engine,
    ops: list[tuple[list[Layer], list[str], str | None, int]],
) -> None:
    clock = FixedClock(T0)
    storage = SqlRateLimitStorage(limits_engine, clock=clock)
    storage.reset()
    model = Model()
    for batch, forget, unless, wait in ops:
        now = storage.now()
        expected = model.acquire(batch, forget, unless, now)
        assert storage.acquire_all(batch, forget=forget, unless=unless) == expected
        held = _live(limits_engine, now)
        assert held == {
            _digest(key): len(model.live(key, now)) for key in KEYS if model.live(key, now)
        }
        clock.advance(timedelta(seconds=wait))


def test_a_batch_of_nothing_but_forgetting(limits_engine: Engine) -> None:
    storage = SqlRateLimitStorage(limits_engine, clock=FixedClock(T0))
    one = Layer("k", 1, 60, True)
    assert storage.acquire_all([one]) == ({}, False)
    assert storage.acquire_all([one])[0]  # the limit of 1 is spent
    assert storage.acquire_all([], forget=["k"]) == ({}, False)
    assert storage.acquire_all([one]) == ({}, False)
