"""`make bench-serving` in its seconds-long smoke mode, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(660)  # a bare machine builds vegeta first (the run's own limit is 600 s)
def test_smoke_run_measures_every_point_and_writes_json_and_png(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.serving", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [result_file] = tmp_path.glob("serving-*.json")
    results = json.loads(result_file.read_text())
    points = {(p["rows"], p["connections"]): p for p in results["points"]}
    assert set(points) == {(1, 1), (1, 8), (32, 1), (32, 8)}
    for point in points.values():
        assert point["rps"] > 0
        assert point["errors"] == 0
        assert point["p50_ms"] <= point["p99_ms"]
    limits = results["in_process"]["forest"]
    assert limits["fast path"]["1"] > limits["model (as trained)"]["1"]
    for key, limit in (("forest", 128), ("forest, 32 admitted", 32)):
        assert results["overload"][key]["max_pending_requests"] == limit
        overload = results["overload"][key]["open_loop_2x_capacity"]
        assert overload["admitted"]["requests"] > 0
        assert overload["other_errors"] == 0  # past capacity: answered or shed, nothing else
    assert results["headline"]["forest"]["ours_rps"] == points[(1, 8)]["rps"]
    for ceiling in ("trivial_responder", "uvicorn_bare_asgi", "uvicorn_fastapi"):
        assert results["ceilings"][f"{ceiling}_32_connections"]["rps"] > 0
        assert results["ceilings"][f"{ceiling}_32_connections"]["errors"] == 0
    png = next(tmp_path.glob("serving-*.png")).read_bytes()
    assert png.startswith(b"\x89PNG")
    assert "headline" in run.stdout
