"""A tiny benchmark harness: medians of rounds, and ratios against a bare primitive
measured in the same run (the machine is shared and noisy; ratios hold, absolute figures
drift). Each benchmark module exposes ``run(quick: bool) -> list[Comparison | Reading]``: a
:class:`Comparison` is a ratio against a baseline, a :class:`Reading` a figure with an upper
limit (errors that escaped, a latency percentile)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Comparison", "Reading", "Timing", "compare", "compare_cold", "measure", "percentile"]


@dataclass(frozen=True, slots=True)
class Timing:
    name: str
    median_s: float
    rounds: int
    inner: int


@dataclass(frozen=True, slots=True)
class Comparison:
    """``subject`` measured against ``baseline``; ``target`` is the maximum allowed ratio."""

    subject: Timing
    baseline: Timing
    target: float

    @property
    def ratio(self) -> float:
        return self.subject.median_s / self.baseline.median_s

    @property
    def ok(self) -> bool:
        return self.ratio <= self.target


@dataclass(frozen=True, slots=True)
class Reading:
    """A measured figure and its upper limit (``None``: reported only), or its lower one
    (``at_least``: a rate that must be reached)."""

    name: str
    value: float
    unit: str
    limit: float | None
    detail: str = ""
    at_least: float | None = None

    @property
    def ok(self) -> bool:
        low = self.at_least is None or self.value >= self.at_least
        return low and (self.limit is None or self.value <= self.limit)


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in (0, 1]) of non-empty ``samples``."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def measure(name: str, fn: Callable[[], object], *, rounds: int = 9, inner: int = 1) -> Timing:
    """Median over ``rounds`` of the mean time of ``inner`` calls (one warm-up call first)."""
    fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner)
    return Timing(name, statistics.median(samples), rounds, inner)


def compare(
    subject: tuple[str, Callable[[], object]],
    baseline: tuple[str, Callable[[], object]],
    *,
    target: float,
    rounds: int = 9,
    inner: int = 1,
) -> Comparison:
    """Measure baseline and subject interleaved round by round, so drift hits both alike."""
    b_name, b_fn = baseline
    s_name, s_fn = subject
    b_fn()
    s_fn()
    b_samples: list[float] = []
    s_samples: list[float] = []
    for _ in range(rounds):
        for fn, samples in ((b_fn, b_samples), (s_fn, s_samples)):
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            samples.append((time.perf_counter() - start) / inner)
    return Comparison(
        Timing(s_name, statistics.median(s_samples), rounds, inner),
        Timing(b_name, statistics.median(b_samples), rounds, inner),
        target,
    )


def compare_cold(
    subject: tuple[str, Callable[[], object], Callable[[], object]],
    baseline: tuple[str, Callable[[], object], Callable[[], object]],
    *,
    target: float,
    rounds: int = 5,
) -> Comparison:
    """Like :func:`compare` for cold calls: each entry is (name, prepare, call); ``prepare``
    (untimed) empties the caches before every single timed ``call``; no warm-up call."""
    b_name, b_prepare, b_fn = baseline
    s_name, s_prepare, s_fn = subject
    b_samples: list[float] = []
    s_samples: list[float] = []
    for _ in range(rounds):
        for prepare, fn, samples in ((b_prepare, b_fn, b_samples), (s_prepare, s_fn, s_samples)):
            prepare()
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
    return Comparison(
        Timing(s_name, statistics.median(s_samples), rounds, 1),
        Timing(b_name, statistics.median(b_samples), rounds, 1),
        target,
    )
