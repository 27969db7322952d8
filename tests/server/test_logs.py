"""The server's log lines (:mod:`securebox_server.logs`): one JSON object per line; and a
real ``securebox serve`` writes one access line per request with its request id and route
template, never the query string, and none at ``--log-level warning`` (it wrote nothing at
all before: no handler was configured)."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from securebox_server.logs import LEVELS, JsonLines, logging_config
from securebox_server.wiring import write_master_key
from tests.server.box.e2e.processes import Processes, free_port, wait_for

SOURCE = Path(__file__).resolve().parents[2] / "src"


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "securebox_server.test", logging.WARNING, __file__, 1, message, (), None
    )
    record.__dict__.update(extra)
    return record


def test_a_record_is_one_json_line_with_its_request_id_and_fields() -> None:
    line = JsonLines().format(
        _record("GET /x 200", request_id="trace-0123", fields={"status": 200, "level": "forged"})
    )
    assert "\n" not in line
    out = json.loads(line)
    assert out["logger"] == "securebox_server.test"
    assert out["level"] == "warning"  # a field cannot overwrite the line's own keys
    assert out["message"] == "GET /x 200"
    assert out["request_id"] == "trace-0123"
    assert out["status"] == 200
    assert out["time"].endswith("Z")
    assert len(out["time"]) == len("2026-12-06T03:30:00.123Z")


def test_an_exception_keeps_its_trace_in_the_line() -> None:
    try:
        raise LookupError("the cause")
    except LookupError:
        record = _record("failed")
        record.exc_info = sys.exc_info()
    out = json.loads(JsonLines().format(record))
    assert "LookupError: the cause" in out["exception"]


def test_the_configuration_applies_and_refuses_an_unknown_level() -> None:
    for level in LEVELS:
        config = logging_config(level)
        assert config["loggers"]["securebox_server"]["level"] == level.upper()
        assert config["loggers"]["uvicorn.access"]["handlers"] == []
    with pytest.raises(ValueError, match="log level"):
        logging_config("verbose")


def _serve(home: Path, port: int, *options: str) -> subprocess.Popen[bytes]:
    key = home / "master.key"
    write_master_key(key)
    settings = home / "settings.toml"
    settings.write_text(
        f'database_url = "sqlite:///{home}/logs.db"\nmaster_key_file = "{key}"\n'
        f'public_url = "http://127.0.0.1:{port}"\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "securebox_auth.cli", "serve", "--port", str(port)]
    command += ["--settings", str(settings), *options]
    with (home / "stderr.log").open("wb") as stderr:  # the child keeps its own copy
        return subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
            command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=stderr
        )


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[Path, list[subprocess.Popen[bytes]]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield tmp_path, started
    for process in started:
        Processes.stop_server(process)


@pytest.mark.slow
@pytest.mark.parametrize("level", ["info", "warning"])
def test_serve_writes_one_access_line_per_request_without_the_query(
    serve: tuple[Path, list[subprocess.Popen[bytes]]], level: str
) -> None:
    home, started = serve
    port = free_port()
    process = _serve(home, port, "--log-level", level)
    started.append(process)
    wait_for(lambda: _ready(port), 60, "the server")
    answer = httpx.get(
        f"http://127.0.0.1:{port}/login?code=hunter2", headers={"X-Request-Id": "trace-logs-0001"}
    )
    assert answer.status_code == 200
    Processes.stop_server(process)
    text = (home / "stderr.log").read_text(encoding="utf-8")
    assert "hunter2" not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert len(lines) == len(text.splitlines())  # every line is a JSON object
    access = [line for line in lines if line["logger"] == "securebox_server.access"]
    if level == "warning":
        assert access == []
        return
    (login,) = [line for line in access if line["route"] == "/login"]
    assert login["request_id"] == "trace-logs-0001"
    assert login["status"] == 200
    assert login["method"] == "GET"
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # start-up lines
