"""The load client: a closed model (``lanes`` users, each sending its next request when the
last one answered) timed per operation.

* GET mixes run on asyncio streams, one keep-alive connection a lane, requests written by
  hand (a few microseconds of client CPU a request, so that on a 2-core machine the client
  takes little of what the server needs); bodies by ``Content-Length`` or chunked.
* POST mixes (the code login: two requests; a sender's publication: a multipart body) run
  in threads with ``httpx`` (tens to hundreds a second: the client's cost is small beside
  argon2id or a durable commit).

Every operation records its end time, its latency and whether it succeeded; only those
ending inside the measured window (after a warm-up) count. Latency is measured from the
moment the lane sent the request: in a closed model a slow answer delays the next request
(coordinated omission), so the percentiles are those of the requests actually sent, not of
a fixed arrival schedule (ADR 0044).

The **open model** (:func:`get_open`, :func:`thread_open`; ``--rate``) schedules arrivals at
a fixed rate (the ``n``-th at ``start + n / rate``) whatever the server does; the same lanes
serve them in turn (an arrival waits in a queue while every lane is busy) and the latency
is measured from the arrival's *intended* time, as wrk2 does (ADR 0053): a stall shows as
the many slow answers users arriving meanwhile would see. An arrival no lane could send
before the schedule's end is recorded as failed (``backlog``) at its arrival time, so the
measured window counts it: not forgotten.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "LaneDone",
    "Samples",
    "Stats",
    "arrivals",
    "get_lanes",
    "get_open",
    "percentile",
    "thread_lanes",
    "thread_open",
]


#: What an arrival that no lane sent before its schedule's end is recorded as (open model).
BACKLOG: Final = "backlog"


@dataclass
class Samples:
    """What one lane saw: (end time, latency seconds, succeeded) of each operation."""

    ends: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    ok: list[bool] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    def add(self, start: float, end: float, good: bool, why: str = "") -> None:
        self.ends.append(end)
        self.latencies.append(end - start)
        self.ok.append(good)
        if not good:
            self.failures[why] = self.failures.get(why, 0) + 1

    def missed(self, intended: float, until: float) -> None:
        """An arrival (due at ``intended``) no lane sent before the schedule ended at
        ``until``: a failure counted at its arrival time (inside the measured window, as
        the arrivals around it), its latency at least ``until - intended``."""
        self.ends.append(intended)
        self.latencies.append(until - intended)
        self.ok.append(False)
        self.failures[BACKLOG] = self.failures.get(BACKLOG, 0) + 1


def percentile(ordered: Sequence[float], p: float) -> float:
    """The nearest-rank ``p`` percentile of ``ordered`` (sorted): the smallest value with at
    least ``p`` % of the samples at or below it."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Stats:
    """One mix's figures over the measured window."""

    operations: int
    errors: int
    seconds: float
    p50: float
    p95: float
    p99: float
    failures: tuple[tuple[str, int], ...]

    @property
    def rate(self) -> float:
        return (self.operations - self.errors) / self.seconds

    @property
    def error_rate(self) -> float:
        return self.errors / self.operations if self.operations else math.nan

    @staticmethod
    def of(lanes: Sequence[Samples], start: float, until: float) -> Stats:
        latencies: list[float] = []
        errors, failures = 0, dict[str, int]()
        for lane in lanes:
            for end, latency, good in zip(lane.ends, lane.latencies, lane.ok, strict=True):
                if start <= end <= until:
                    latencies.append(latency)
                    errors += not good
            for why, n in lane.failures.items():
                failures[why] = failures.get(why, 0) + n
        latencies.sort()
        return Stats(
            len(latencies),
            errors,
            until - start,
            percentile(latencies, 50),
            percentile(latencies, 95),
            percentile(latencies, 99),
            tuple(sorted(failures.items())),
        )


# -- GET on raw keep-alive connections ------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    at = lowered.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lowered.index(b"\r\n", at + 2)
        await reader.readexactly(int(lowered[at + 17 : end]))
    elif b"\r\ntransfer-encoding: chunked" in lowered:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _get_lane(
    port: int, requests: Sequence[bytes], until: float, samples: Samples, expect: int
) -> None:
    n = 0
    while time.perf_counter() < until:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < until:
                start = time.perf_counter()
                writer.write(requests[n % len(requests)])
                n += 1
                status = await _read_response(reader)
                samples.add(start, time.perf_counter(), status == expect, str(status))
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            samples.add(start, time.perf_counter(), False, type(exc).__name__)
        finally:
            writer.close()


def get_request(port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def get_lanes(
    port: int, lanes: Sequence[Sequence[bytes]], seconds: float, expect: int = 200
) -> list[Samples]:
    """One connection a lane, each cycling through its requests for ``seconds``."""
    samples = [Samples() for _ in lanes]

    async def run() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(
            *(_get_lane(port, r, until, s, expect) for r, s in zip(lanes, samples, strict=True))
        )

    asyncio.run(run())
    return samples


# -- operations in threads ------------------------------------------------------------------


class LaneDone(Exception):
    """Raised by an operation that has nothing left to do (its fresh users are used up):
    its lane ends there, nothing recorded for that call."""


def thread_lanes(
    operations: Sequence[Callable[[int], str | None]], seconds: float
) -> list[Samples]:
    """One thread a lane calling its operation (with a counter) until ``seconds`` pass; an
    operation returns ``None`` when it succeeded, else why it failed."""
    samples = [Samples() for _ in operations]
    until = time.perf_counter() + seconds

    def lane(operation: Callable[[int], str | None], into: Samples) -> None:
        n = 0
        while time.perf_counter() < until:
            start = time.perf_counter()
            try:
                why = operation(n)
            except LaneDone:
                return
            except Exception as exc:
                why = type(exc).__name__
            into.add(start, time.perf_counter(), why is None, why or "")
            n += 1

    threads = [
        threading.Thread(target=lane, args=(op, s), daemon=True)
        for op, s in zip(operations, samples, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 180)
    return samples


# -- the open model -------------------------------------------------------------------------


def arrivals(rate: float, seconds: float) -> int:
    """How many arrivals ``rate`` a second schedules in ``seconds``."""
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError("an arrival rate is a positive number a second")
    return max(1, math.ceil(rate * seconds))


async def _open_get_lane(
    port: int,
    requests: Sequence[bytes],
    pending: asyncio.Queue[tuple[float, int] | None],
    until: float,
    samples: Samples,
    expect: int,
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        while (item := await pending.get()) is not None:
            intended, n = item
            if time.perf_counter() >= until:
                samples.missed(intended, until)
                continue
            try:
                if reader is None or writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(requests[n % len(requests)])
                status = await _read_response(reader)
                samples.add(intended, time.perf_counter(), status == expect, str(status))
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                samples.add(intended, time.perf_counter(), False, type(exc).__name__)
                if writer is not None:
                    writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


def get_open(
    port: int, lanes: Sequence[Sequence[bytes]], seconds: float, rate: float, expect: int = 200
) -> list[Samples]:
    """Arrivals at ``rate`` a second for ``seconds``, served by ``lanes`` keep-alive
    connections (each cycling through its own requests); latency from the intended time."""
    total = arrivals(rate, seconds)
    samples = [Samples() for _ in lanes]

    async def run() -> None:
        pending: asyncio.Queue[tuple[float, int] | None] = asyncio.Queue()
        start = time.perf_counter()
        until = start + seconds
        workers = [
            asyncio.create_task(_open_get_lane(port, r, pending, until, s, expect))
            for r, s in zip(lanes, samples, strict=True)
        ]
        for n in range(total):
            intended = start + n / rate
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.put_nowait((intended, n))
        for _ in workers:
            pending.put_nowait(None)
        await asyncio.gather(*workers)

    asyncio.run(run())
    return samples


def thread_open(
    operations: Sequence[Callable[[int], str | None]], seconds: float, rate: float
) -> list[Samples]:
    """Arrivals at ``rate`` a second for ``seconds``, each served by the first free thread
    (one a lane, calling its own operation); latency from the intended time."""
    total = arrivals(rate, seconds)
    samples = [Samples() for _ in operations]
    pending: queue.SimpleQueue[tuple[float, int] | None] = queue.SimpleQueue()
    start = time.perf_counter()
    until = start + seconds

    def lane(operation: Callable[[int], str | None], into: Samples) -> None:
        while (item := pending.get()) is not None:
            intended, n = item
            if time.perf_counter() >= until:
                into.missed(intended, until)
                continue
            try:
                why = operation(n)
            except LaneDone:
                continue  # the arrival finds nothing to do: not an operation
            except Exception as exc:
                why = type(exc).__name__
            into.add(intended, time.perf_counter(), why is None, why or "")

    threads = [
        threading.Thread(target=lane, args=(op, s), daemon=True)
        for op, s in zip(operations, samples, strict=True)
    ]
    for thread in threads:
        thread.start()
    for n in range(total):
        intended = start + n / rate
        delay = intended - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        pending.put((intended, n))
    for _ in threads:
        pending.put(None)
    for thread in threads:
        thread.join(seconds + 180)
    return samples
