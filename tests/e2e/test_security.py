"""Credentials reach MLflow and nothing else, and the operator can do what it needs and no more.

A planted password is searched for everywhere a user or another tenant can look: the
ModelPromotion's status, its Events, the objects the operator created, the operator's log and
its metrics."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from kubernetes import client

from mlrollout.testbed.tools import ROOT
from promotion_operator.status import PromotionPhase, PromotionStatus

from .cluster import Cluster, wait_for
from .mlflow_models import HostMlflow
from .operator_process import OperatorProcess
from .promotions import base_spec
from .target import Target

PLANTED_USER = "planted-user-7c1d"
PLANTED_PASSWORD = "planted-password-5f3a9e"


def test_a_planted_credential_goes_to_allowed_hosts_only_and_never_leaks(
    cluster: Cluster, namespace: str, operator: OperatorProcess, host_mlflow: HostMlflow,
    images: dict[str, str], model: str,
) -> None:  # fmt: skip
    data = {"username": PLANTED_USER, "password": PLANTED_PASSWORD}
    encoded: dict[str, bytes | str] = {
        k: base64.b64encode(v.encode()).decode() for k, v in data.items()
    }
    secret = client.V1Secret(metadata=client.V1ObjectMeta(name="mlflow-creds"), data=encoded)
    cluster.core.create_namespaced_secret(namespace, secret)
    target = Target(cluster, namespace, operator)
    version = host_mlflow.register(model, "logistic_regression")
    spec = base_spec(model, version, images["model-server"], host_mlflow.url)
    spec["mlflow"]["credentialsSecretRef"] = {"name": "mlflow-creds"}

    # The host MLflow is not an in-cluster Service: by default nothing is sent to it.
    target.apply(spec)

    def refused() -> PromotionStatus | None:
        status = target.status()
        return status if status.phase is PromotionPhase.FAILED else None

    status = wait_for("the credentials to be refused", refused, 60, operator.log_tail)
    assert "is not one the operator sends MLflow credentials to" in (status.message or "")
    assert status.candidate is None  # nothing was evaluated, let alone rolled out

    # Allowed by the operator's settings: the credentials are used, and the promotion goes on.
    operator.stop()
    operator.extra_env["MLROLLOUT_OPERATOR_MLFLOW_CREDENTIAL_HOSTS"] = json.dumps([cluster.host_ip])
    operator.start()
    spec["gates"].append({"metric": "accuracy", "op": ">=", "threshold": 0.5})  # an edit: retry
    target.apply(spec)
    target.wait(PromotionPhase.PROMOTED)

    places = {
        "status and spec": cluster.kube.kubectl("get", "mp", "-n", namespace, "-o", "json").stdout,
        "events": cluster.kube.kubectl("get", "events", "-n", namespace, "-o", "json").stdout,
        "created objects": cluster.kube.kubectl(
            "get", "deploy,rs,pods,svc,hpa,pdb", "-n", namespace, "-o", "json"
        ).stdout,
        "operator log": operator.log_tail(100_000),
        "operator metrics": httpx.get(
            f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5
        ).text,
    }
    for place, text in places.items():
        assert text, f"nothing read from {place}"
        for planted in (PLANTED_PASSWORD, PLANTED_USER):
            assert planted not in text, f"{planted} found in {place}"
    deployment = json.loads(places["created objects"])["items"][0]
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    password = next(e for e in env if e["name"] == "MLFLOW_TRACKING_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"]["name"] == "mlflow-creds"  # a reference only


# What the chart's operator may do in a namespace it watches, and what it must not.
ALLOWED = [
    ("patch", "modelpromotions.mlrollout.dev/status"),
    ("create", "deployments.apps"), ("delete", "deployments.apps"),
    ("create", "services"), ("create", "horizontalpodautoscalers.autoscaling"),
    ("create", "poddisruptionbudgets.policy"), ("list", "pods"), ("create", "events"),
]  # fmt: skip
FORBIDDEN = [
    ("list", "secrets"), ("get", "secrets/anything"), ("create", "pods"),
    ("create", "pods/exec"), ("delete", "namespaces"), ("create", "rolebindings"),
    ("create", "clusterrolebindings"), ("update", "customresourcedefinitions"),
    ("delete", "modelpromotions.mlrollout.dev"), ("create", "serviceaccounts/token"),
    ("patch", "nodes"), ("create", "configmaps"),
]  # fmt: skip


@pytest.mark.parametrize("watch_one_namespace", [True, False], ids=["namespaced", "cluster-wide"])
def test_the_operator_may_do_what_it_needs_and_no_more(
    cluster: Cluster, namespace: str, crd: None, tmp_path: Path, watch_one_namespace: bool
) -> None:
    """RBAC as rendered by the chart, asked of the real API server (`kubectl auth can-i`)."""
    release = f"rbac-{namespace[-5:]}"
    values = ["--set", f"operator.watchNamespaces={{{namespace}}}"] if watch_one_namespace else []
    rendered = cluster.kube.helm(
        "template", release, str(ROOT / "charts" / "mlrollout"), "-n", namespace,
        "--set", "mlflow.enabled=false", "--set", "crds.install=false",
        "--set", "operator.image.tag=rbac-check",
        "--show-only", "templates/rbac.yaml", "--show-only", "templates/serviceaccount.yaml",
        *values,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    applied = cluster.kube.kubectl("apply", "-n", namespace, "-f", "-", stdin=rendered.stdout)
    assert applied.returncode == 0, applied.stderr
    account = f"system:serviceaccount:{namespace}:{release}-mlrollout-operator"
    try:
        for verb, resource in ALLOWED + FORBIDDEN:
            asked = cluster.kube.kubectl("auth", "can-i", verb, resource, "-n", namespace,
                                         "--as", account)  # fmt: skip
            answer = asked.stdout.strip()
            expected = "yes" if (verb, resource) in ALLOWED else "no"
            assert answer == expected, f"can {account} {verb} {resource}? {answer} {asked.stderr}"
    finally:
        cluster.kube.kubectl("delete", "-f", "-", "-n", namespace, "--ignore-not-found",
                             stdin=rendered.stdout)  # fmt: skip
