"""``securebox demo --check`` against a real uvicorn on loopback (slow: a few seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from securebox_auth.cli import build_parser

SOURCE = Path(__file__).resolve().parents[2] / "src"


def test_serve_and_demo_are_registered() -> None:
    args = build_parser().parse_args(["serve", "--workers", "2"])
    assert args.workers == 2
    assert args.host == "127.0.0.1"
    demo = build_parser().parse_args(["demo", "--check"])
    assert demo.check


@pytest.mark.slow
def test_demo_check_logs_in_over_http(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{SOURCE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(  # noqa: S603 - our interpreter, our arguments
        [sys.executable, "-m", "securebox_auth.cli", "demo", "--check", "--dir", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "code login of 123456789/01: ok" in done.stdout
    assert "the home page shows the demo's box: ok" in done.stdout
    # the demo's jobs worker sent the box's digests (Message-ID ``<...box@host>``)
    assert "the jobs worker sent the new-document digests to /demo/outbox: ok" in done.stdout
    # the README's demo: 01 grants partial rights, the collaborator sees only those documents
    assert "the collaborator logged in and sees exactly those documents: ok" in done.stdout
    sent = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    digests = [m for m in sent if m["reference"].endswith(".box@localhost>")]
    assert {m["to"] for m in digests} >= {"comptabilite@boulangerie-martin.example"}
