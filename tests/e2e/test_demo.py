"""`make demo`'s story, run through the module `make demo` calls; its summary is checked.

It runs as a team would run MLflow (`make demo MLFLOW_BACKEND=postgresql MLFLOW_AUTH=basic`):
the chart's PostgreSQL, MLflow's basic-auth app, and ModelPromotions that log in with a Secret.
The chart's sqlite MLflow is installed by test_chart_install. Then two promotions whose login
fails (a wrong password, a Secret the operator may not read) are refused with a status that
says why, roll nothing out, and leak no secret.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mlrollout.demo.__main__ import LOGIN_SECRET, MLFLOW_URI, MODEL
from mlrollout.testbed import promotions
from mlrollout.testbed.tools import ROOT, Kube

from .cluster import Cluster
from .promotions import TIMINGS

NAMESPACE = "mlrollout-demo"


@pytest.fixture
def demo_cleanup(cluster: Cluster) -> Iterator[None]:
    yield
    cluster.kube.helm("uninstall", "mlrollout", "-n", NAMESPACE, "--ignore-not-found")
    cluster.kube.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false")


@pytest.mark.timeout(1500)
def test_the_demo_promotes_rejects_and_rolls_back(
    cluster: Cluster, demo_cleanup: None, images: dict[str, str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlrollout.demo", "--kubeconfig", str(cluster.kubeconfig), "--json",
         "--mlflow-backend", "postgresql", "--mlflow-auth", "basic"],
        capture_output=True, text=True, timeout=1200, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    outcomes = summary["outcomes"]
    verdicts = [o["verdict"] for o in outcomes]
    assert verdicts == ["Promoted", "Rejected", "RolledBack", "RolledBack"], outcomes
    assert "prediction_agreement" in outcomes[3]["message"], outcomes[3]
    shadow = summary["shadow"]
    assert shadow["answered_by_shadow"] == 0, shadow
    assert shadow["failed"] == 0, shadow
    assert shadow["mirrored"] > 0, shadow
    assert shadow["agreement"] < 0.9, shadow
    assert outcomes[0]["algorithm"] == "random_forest"
    assert "accuracy" in outcomes[1]["message"]
    assert summary["failed_during_rollback"] == 0
    assert summary["served_during_rollback"] > 10
    assert len(summary["prediction"]["predictions"]) == 1
    assert "version" in result.stdout  # the table's header
    assert summary["mlflow"] == {"backend": "postgresql", "auth": "basic"}
    for outcome in outcomes:
        TIMINGS[f"demo: version {outcome['version']} -> {outcome['verdict']}"] = outcome["seconds"]
    kube = Kube(cluster.kubeconfig)
    migrated = kube.kubectl_ok(
        "logs", "-n", NAMESPACE, "deploy/mlrollout-mlflow", "-c", "db-upgrade"
    )
    assert "tracking store current" in migrated
    assert "auth store current" in migrated
    refused_logins_say_why(kube, images, outcomes[0]["version"])


def refused_logins_say_why(kube: Kube, images: dict[str, str], version: str) -> None:
    """A wrong password (the chart Secret's other key) and a Secret the operator may not read:
    each status says so, no Deployment is made, and no secret value is in a status, an Event,
    the operator's log or its metrics."""
    secret = kube.get(NAMESPACE, "secret", LOGIN_SECRET)["data"]
    values = [base64.b64decode(v).decode() for v in secret.values()]
    cases = {
        "wrong-password": ({"name": LOGIN_SECRET, "passwordKey": "flask-secret-key"},
                           f"the credentials in Secret '{LOGIN_SECRET}' are wrong"),
        "unreadable-login": ({"name": "not-listed-for-the-operator"},
                             "operator.mlflowCredentialSecrets"),
    }  # fmt: skip
    for name, (ref, _) in cases.items():
        spec = promotions.promotion_spec(MODEL, version, images["model-server"], MLFLOW_URI)
        spec["mlflow"]["credentialsSecretRef"] = ref
        kube.apply(NAMESPACE, promotions.promotion(name, spec))
    for name, (_, says) in cases.items():
        status = wait_for_message(kube, name, says)
        assert "nothing rolled out" in status["message"], status
        assert kube.kubectl("get", "deploy", name, "-n", NAMESPACE).returncode != 0  # none made
    events = kube.kubectl_ok("get", "events", "-n", NAMESPACE, "-o", "json")
    statuses = json.dumps([kube.get(NAMESPACE, "mp", name) for name in cases])
    log = kube.kubectl_ok("logs", "-n", NAMESPACE, "deploy/mlrollout-operator")
    pod = kube.kubectl_ok("get", "pods", "-n", NAMESPACE, "-o", "name",
                          "-l", "app.kubernetes.io/name=mlrollout-operator").split()[0]  # fmt: skip
    metrics = kube.kubectl_ok(
        "get",
        "--raw",
        f"/api/v1/namespaces/{NAMESPACE}/pods/{pod.split('/')[1]}:9090/proxy/metrics",
    )
    assert "mlrollout" in metrics  # the operator's own page was read
    for value in values:
        if len(value) >= 8:  # the password and the CSRF key (not the user name "admin")
            assert value not in events + statuses + log + metrics


def wait_for_message(kube: Kube, name: str, says: str, timeout_s: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = kube.get(NAMESPACE, "mp", name).get("status") or {}
        if says in (status.get("message") or ""):
            return status
        time.sleep(1)
    raise AssertionError(f"{name}: no status message with {says!r} in {timeout_s}s: {status}")
