"""`make bench-operator` in its smoke mode (N=5) on the test cluster, so it cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlrollout.testbed.tools import ROOT

from .cluster import Cluster


@pytest.mark.timeout(960)  # a bare machine builds kwok first (the run's own limit is 900 s)
def test_smoke_run_reaches_every_verdict_and_counts_the_requests(
    cluster: Cluster, crd: None, tmp_path: Path
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.operator", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "MLROLLOUT_KUBECONFIG": str(cluster.kubeconfig)},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [result_file] = tmp_path.glob("operator-*.json")
    runs = {r["scenario"]: r for r in json.loads(result_file.read_text())["runs"]}
    assert runs["gates"]["phases"] == {"Rejected": 5}
    assert runs["rollout"]["phases"] == {"Promoted": 5}
    # Every promoted version's pod ran on a simulated node, none on the real ones.
    assert runs["rollout"]["ready_pods"] == {"kwok": 5, "real": 0}
    assert runs["gates"]["ready_pods"] == {"kwok": 0, "real": 0}
    for result in runs.values():
        assert result["lost"] == 0
        latency = result["apply_to_verdict_s"]
        assert 0 < latency["p50"] <= latency["p95"] <= latency["max"]
        assert result["operator_peak_rss_mb"] > 50
        assert result["mlflow_requests_per_promotion"] >= 1
        assert result["api_requests_per_promotion"] >= 1
        # The machine's busy CPU holds the operator's and MLflow's, and the cluster's on top.
        cpu = result["cpu_ms_per_promotion"]
        assert min(cpu.values()) > 0, cpu
        assert result["mlflow_cpu_ms_per_request"] > 0
        assert 0 < result["machine_cpu_percent"] <= 100 * result["cores"]
    # A rollout talks to Kubernetes and MLflow more than a rejection does.
    assert (
        runs["rollout"]["api_requests_per_promotion"] > runs["gates"]["api_requests_per_promotion"]
    )
