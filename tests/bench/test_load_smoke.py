"""`make load` on a one-second plan: it passes within its thresholds and fails past them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, p95_ms: float) -> subprocess.CompletedProcess[str]:
    plan = {"stages": [{"rate": 50, "seconds": 1}, {"rate": 200, "seconds": 1}],
            "thresholds": {"p95_ms": p95_ms, "error_rate": 0.0}}  # fmt: skip
    stages = tmp_path / f"plan-{p95_ms}.json"
    stages.write_text(json.dumps(plan))
    return subprocess.run(
        [sys.executable, "-m", "tests.load.run", "--stages", str(stages)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_ramp_within_its_thresholds_passes(tmp_path: Path) -> None:
    run = _run(tmp_path, p95_ms=500)
    assert run.returncode == 0, run.stdout + run.stderr
    stages = [line.split() for line in run.stdout.splitlines() if line.strip().endswith("ok")]
    assert [(s[0], s[1], s[2]) for s in stages] == [("1", "50", "50"), ("2", "200", "200")]


def test_a_threshold_no_server_can_meet_fails_the_run(tmp_path: Path) -> None:
    run = _run(tmp_path, p95_ms=0.001)
    assert run.returncode == 1
    assert "missed their thresholds" in run.stderr
    assert "FAILED (p95 <= 0.001 ms" in run.stdout
