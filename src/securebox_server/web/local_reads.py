"""Pages served on the event loop when the database is SQLite; a write moves to a thread.

FastAPI runs a synchronous dependency or endpoint in its thread pool: two hops a page
(the login dependency, then the endpoint), each an event-loop wake-up, a queue and the GIL
handed over and back. For a page whose work is reads of a SQLite file, calls into the
process that never wait for a lock (WAL), the hops cost more than the reads: a fifth of a
home page's CPU, measured (ADR 0071). On PostgreSQL a read is a round trip, which must not
block the loop; a write's ``COMMIT`` waits for the disk, and on SQLite its ``BEGIN
IMMEDIATE`` for another process's writer lock.

So, for a ``GET`` (or ``HEAD``) when the server's database is SQLite
(:func:`serving_locally`), :func:`loop_first` runs a synchronous function on the event
loop inside :func:`~securebox_auth.stores.write_guard.writes_refused`: a function that
only reads is done there; one that starts a write transaction gets
:class:`~securebox_auth.stores.write_guard.WriteRefused` before anything is written,
and runs again, from its start, in the thread pool, where it may wait (a session's touch
every ``G``, the first home page of a session). Everything else (other methods,
PostgreSQL) runs in the thread pool as FastAPI would run it.

A function made ``loop_first`` must therefore have no effect before its first write that
running it twice would repeat (reads and caches only): true of the server's dependencies
and page endpoints, whose effects are the store's writes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final, ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from securebox_auth.stores.write_guard import WriteRefused, writes_refused

__all__ = ["READ_METHODS", "loop_first", "ran_on_loop", "serving_locally"]

P = ParamSpec("P")
R = TypeVar("R")

#: The methods whose requests may be served on the loop (they should only read).
READ_METHODS: Final = frozenset({"GET", "HEAD"})

_LOCAL: Final[ContextVar[bool]] = ContextVar("securebox_serving_locally", default=False)


@contextmanager
def serving_locally(enabled: bool) -> Iterator[None]:
    """While the request is handled: may its synchronous functions start on the loop?"""
    token = _LOCAL.set(enabled)
    try:
        yield
    finally:
        _LOCAL.reset(token)


def ran_on_loop() -> bool:
    """Is a request being served with its reads on the loop (for tests and metrics)?"""
    return _LOCAL.get()


def loop_first(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``function`` (synchronous) as a coroutine function: on the loop with writes refused
    when the request is served locally, again in the thread pool if it had to write;
    otherwise in the thread pool. FastAPI reads the parameters of ``function`` itself
    (``functools.wraps``: ``inspect.unwrap`` finds it)."""
    if inspect.iscoroutinefunction(function) or inspect.isgeneratorfunction(function):
        raise TypeError(f"{function!r} is not a plain synchronous function")

    @functools.wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if _LOCAL.get():
            try:
                with writes_refused():
                    return function(*args, **kwargs)
            except WriteRefused:
                pass  # nothing was written: again where a write may wait
        return await run_in_threadpool(function, *args, **kwargs)

    return run
