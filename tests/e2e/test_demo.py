"""`make demo`'s story, run through the module `make demo` calls; its summary is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mlrollout.testbed.tools import ROOT

from .cluster import Cluster
from .promotions import TIMINGS

NAMESPACE = "mlrollout-demo"


@pytest.fixture
def demo_cleanup(cluster: Cluster) -> Iterator[None]:
    yield
    cluster.kube.helm("uninstall", "mlrollout", "-n", NAMESPACE, "--ignore-not-found")
    cluster.kube.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false")


def test_the_demo_promotes_rejects_and_rolls_back(
    cluster: Cluster, demo_cleanup: None, images: dict[str, str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlrollout.demo", "--kubeconfig", str(cluster.kubeconfig), "--json"],
        capture_output=True, text=True, timeout=1200, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    outcomes = summary["outcomes"]
    assert [o["verdict"] for o in outcomes] == ["Promoted", "Rejected", "RolledBack"], outcomes
    assert outcomes[0]["algorithm"] == "random_forest"
    assert "accuracy" in outcomes[1]["message"]
    assert summary["failed_during_rollback"] == 0
    assert summary["served_during_rollback"] > 10
    assert len(summary["prediction"]["predictions"]) == 1
    assert "version" in result.stdout  # the table's header
    for outcome in outcomes:
        TIMINGS[f"demo: version {outcome['version']} -> {outcome['verdict']}"] = outcome["seconds"]
