"""`make bench-mirror` for a second a phase, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(660)  # a bare machine builds vegeta first (the run's own limit is 600 s)
def test_both_phases_are_measured_and_every_mirror_is_accounted_for(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.mirror_overhead", "--seconds", "1", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads((tmp_path / "mirror-overhead.json").read_text())
    for phase in ("off", "on"):
        assert results[phase]["rps"] > 0
        assert results[phase]["errors"] == 0
    assert results["mirror"]["sent"] > 0
    assert results["mirror"]["failed"] == 0
    assert results["shadow_rows_compared"] == results["mirror"]["sent"]
    assert results["agreement"] == 1.0  # the same model on both sides
    assert set(results["ratios_on_over_off"]) >= {"rps", "p50_ms", "p99_ms"}
    assert "on / off" in run.stdout
