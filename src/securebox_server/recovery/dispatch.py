"""Messages sent off the request: a recovery answers at once, in the same time whether a
message left or not (the SMTP or SMS round trip would tell), and one thread sends, a short
``delay`` after the request handed the message over, so that composing and sending never
overlap the answer being written (in one process, the thread would slow it down)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from securebox_auth.errors import SecureboxError

__all__ = ["Dispatcher"]

log = logging.getLogger("securebox.recovery")


#: Seconds between the hand-over and the send (the answer is written meanwhile).
DELAY = 0.1


class Dispatcher:
    def __init__(self, delay: float = DELAY) -> None:
        self._delay = delay
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recovery-send")
        self._pending: list[Future[None]] = []

    def submit(self, what: str, send: Callable[[], None]) -> None:
        def run() -> None:
            time.sleep(self._delay)
            try:
                send()
            except (SecureboxError, OSError) as exc:  # never the address or the text
                log.warning("recovery %s not sent: %s", what, type(exc).__name__)

        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._pool.submit(run))

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every message submitted so far was handed over (tests, shutdown)."""
        wait(self._pending, timeout=timeout)
