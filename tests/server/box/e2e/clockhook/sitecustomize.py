"""A settable clock for the box's end-to-end tests' processes (the server, its workers, the
jobs worker): on this folder's ``PYTHONPATH``, when ``SECUREBOX_TEST_CLOCK_FILE`` is set,
every interpreter's :class:`~securebox_auth.clock.SystemClock` tells the real time plus the
offset (seconds) written in that file, read again on every call, so the test moves the time
of every process at once. Nothing changes when the variable is unset."""

from __future__ import annotations

import os

if os.environ.get("SECUREBOX_TEST_CLOCK_FILE"):
    from tests.server.box.e2e.clock import install

    install(os.environ["SECUREBOX_TEST_CLOCK_FILE"])
