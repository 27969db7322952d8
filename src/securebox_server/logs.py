"""The server's log lines: one JSON object per line on standard error.

``securebox serve`` (and ``securebox jobs worker``) configure the standard :mod:`logging`
with :func:`logging_config`: every record of the server (``securebox_server.*``), of the
jobs and the library (``securebox.*``, ``securebox_auth.*``) and of uvicorn becomes one
line such as::

    {"time":"2026-12-06T03:30:00.123Z","level":"info","logger":"securebox_server.access",
     "message":"GET /login 200","request_id":"5f0c...","method":"GET","route":"/login",
     "status":200,"ms":1.4}

(one line in the file). A log collector (journald, Loki, Elasticsearch) reads them as they
are. The access line of each request (``securebox_server.access``, at ``info``) carries
its request id (the ``X-Request-Id`` answered), method, route *template* (``/documents/{id}``,
never the path with its values), status and time; never a query string, a cookie, a form
value or a header: nothing secret reaches the log (OWASP ASVS 5.0 V16.2, V16.3;
OWASP Logging Cheat Sheet). uvicorn's own access log is off: it would write the full
path with its query string. ``--log-level warning`` keeps only warnings and errors.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["FIELDS", "LEVELS", "JsonLines", "logging_config"]

#: The levels ``--log-level`` accepts, lowest first.
LEVELS: Final = ("debug", "info", "warning", "error")
#: The ``extra`` attribute whose mapping a record adds to its line (the access line's
#: request id, method, route, status and time).
FIELDS: Final = "fields"
#: The loggers written: the server's, the jobs' and the library's, and uvicorn's.
_OURS: Final = ("securebox_server", "securebox", "securebox_auth")
#: Attributes of a record that are already part of the line.
_RESERVED: Final = frozenset(("time", "level", "logger", "message"))


class JsonLines(logging.Formatter):
    """A record as one JSON object: time (UTC, milliseconds), level, logger, message, the
    record's ``request_id`` and :data:`FIELDS` when it has them, and the exception's
    trace for a record logged with one (the log keeps what the answer never shows)."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "time": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if isinstance(request_id, str) and request_id:
            line["request_id"] = request_id
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            line.update((k, v) for k, v in fields.items() if k not in _RESERVED)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, separators=(",", ":"), ensure_ascii=False, default=str)


def logging_config(level: str = "info") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` dictionary: :class:`JsonLines` on standard error
    for the server's, the library's and uvicorn's loggers at ``level``; uvicorn's access
    log silenced (the server writes its own, see the module)."""
    if level not in LEVELS:
        raise ValueError(f"log level: one of {', '.join(LEVELS)}")
    chosen = level.upper()
    ours = {"handlers": ["stderr"], "level": chosen, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonLines"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            **{name: dict(ours) for name in _OURS},
            "uvicorn": dict(ours),
            "uvicorn.error": {"level": chosen},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }
