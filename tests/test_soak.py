"""A short soak of the real server (issue 9): ``scripts/soak.py`` with a few clients and seconds.

The same contract as the full run (see the script): runaways answered 503 within the limit +
1 s while the other clients see no error and a p99 at most twice the one before (plus a slack
for a loaded 2-core CI machine, where a few seconds give few samples); one client cannot take
every evaluator; /healthz answers throughout; the CPU is idle again and the memory given back
after the runaways; SIGTERM stops the server within seconds. The full run's figures are in the
closing note of issue 9 (100 clients, 60 s, 100k triples).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.server

SOAK = Path(__file__).resolve().parents[1] / "scripts" / "soak.py"


def test_a_short_soak_keeps_the_contract(tmp_path: Path) -> None:
    figures = tmp_path / "soak.json"
    command = [
        sys.executable,
        str(SOAK),
        "--triples", "20000",
        "--clients", "6",
        "--processes", "2",
        "--duration", "8",
        "--warmup", "1",
        "--runaway-at", "3",
        "--shapes", "cross4,path",
        "--greedy", "5",  # over 2 workers: one gets 3, more than one client may have there
        "--timeout", "2",
        "--p99-slack-ms", "250",
        "--stop-server",
        "--json", str(figures),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    report = json.loads(figures.read_text()) if figures.exists() else {}
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert report["broken"] == []
    assert report["errors"] == {}
    assert report["phases"]["before"]["requests"] > 50
    assert report["phases"]["during"]["requests"] > 50
    shapes = {r["shape"]: r for r in report["runaways"]}
    assert shapes["cross4"]["status"] == shapes["path"]["status"] == 503
    assert all(r["status"] == 503 for r in report["runaways"])
    assert any(r["seconds"] < 1.0 for r in report["runaways"] if r["shape"] == "greedy")
    assert report["healthz"]["bad"] == 0 and report["alive"]
    assert report["shutdown_s"] is not None and report["shutdown_s"] < 5.0
