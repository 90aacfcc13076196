"""The model server image on the real cluster: replicas behind a Service, a model that cannot
load, and an HPA. The objects come from the operator's own builders, applied with kubectl."""

from __future__ import annotations

import json
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

from mlrollout.testbed.traffic import Poller
from promotion_operator import manifests
from promotion_operator.spec import parse_spec

from .cluster import Cluster, describe_namespace, wait_for
from .mlflow_models import HostMlflow
from .promotions import service_url

DATASET = load_breast_cancer()
ROWS = DATASET.data[:6].tolist()


def _spec(image: str, tracking_uri: str, model: str, *, deadline: int = 120, **serving: Any) -> Any:
    return parse_spec(
        {
            "model": {"name": model, "version": "1"},
            "mlflow": {"trackingUri": tracking_uri},
            "serving": {"image": image, "imagePullPolicy": "Never", **serving},
            "rollout": {"progressDeadlineSeconds": deadline},
        }
    )


def _apply(cluster: Cluster, *objects: dict[str, Any]) -> None:
    for obj in objects:
        result = cluster.kube.kubectl(
            "apply", "--server-side", "--field-manager=e2e", "-f", "-", stdin=json.dumps(obj)
        )
        assert result.returncode == 0, result.stderr


def _ready_replicas(cluster: Cluster, namespace: str, name: str, want: int) -> bool:
    status = cluster.json(cluster.apps.read_namespaced_deployment_status(name, namespace))["status"]
    return bool(status.get("readyReplicas", 0) == want == status.get("updatedReplicas", 0))


def _predict(url: str) -> list[Any]:
    response = httpx.post(f"{url}/predict", json={"instances": ROWS}, timeout=10)
    assert response.status_code == 200, response.text
    predictions: list[Any] = response.json()["predictions"]
    return predictions


def test_two_replicas_behind_a_service_predict_like_in_process(
    cluster: Cluster, namespace: str, mlflow_service: str, host_mlflow: HostMlflow,
    images: dict[str, str],
) -> None:  # fmt: skip
    version = host_mlflow.register("served", "random_forest")
    spec = _spec(images["model-server"], mlflow_service, "served", replicas=2)
    _apply(
        cluster,
        manifests.build_deployment("served", namespace, spec, version),
        manifests.build_service("served", namespace, spec),
    )
    wait_for(
        "2 ready replicas", lambda: _ready_replicas(cluster, namespace, "served", 2), 180,
        lambda: describe_namespace(cluster, namespace),
    )  # fmt: skip
    pod = cluster.json(cluster.core.list_namespaced_pod(namespace))["items"][0]
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["MLFLOW_TRACKING_URI"] == mlflow_service  # the pods reach MLflow by DNS name

    served = _predict(service_url(cluster, namespace, "served"))

    mlflow.set_tracking_uri(host_mlflow.url)
    frame = pd.DataFrame(ROWS, columns=list(DATASET.feature_names))
    in_process = mlflow.pyfunc.load_model(f"models:/served/{version}").predict(frame)
    assert served == np.asarray(in_process).tolist()


def test_a_model_that_cannot_load_never_becomes_ready_and_the_rollout_stalls(
    cluster: Cluster, namespace: str, mlflow_service: str, host_mlflow: HostMlflow,
    images: dict[str, str],
) -> None:  # fmt: skip
    good = host_mlflow.register("stall", "logistic_regression")
    spec = _spec(images["model-server"], mlflow_service, "stall", replicas=2, deadline=20)
    _apply(cluster, manifests.build_deployment("stall", namespace, spec, good),
           manifests.build_service("stall", namespace, spec))  # fmt: skip
    explain = lambda: describe_namespace(cluster, namespace)  # noqa: E731
    wait_for(
        "2 ready replicas", lambda: _ready_replicas(cluster, namespace, "stall", 2), 180, explain
    )
    url = service_url(cluster, namespace, "stall")
    before = _predict(url)

    with Poller(url, ROWS[:1]) as poller:
        _apply(cluster, manifests.build_deployment("stall", namespace, spec, "999"))

        def stalled() -> bool:
            deployment = cluster.apps.read_namespaced_deployment_status("stall", namespace)
            conditions = cluster.json(deployment)["status"].get("conditions", [])
            progressing = {c["type"]: c for c in conditions}.get("Progressing", {})
            return (progressing.get("status"), progressing.get("reason")) == (
                "False", "ProgressDeadlineExceeded"
            )  # fmt: skip

        wait_for("Progressing=False, ProgressDeadlineExceeded", stalled, 120, explain)

    assert poller.failures == [], poller.failures[:5]
    assert poller.ok > 20
    assert _ready_replicas(cluster, namespace, "stall", 2) is False  # 2 ready, but not updated
    status = cluster.json(cluster.apps.read_namespaced_deployment_status("stall", namespace))
    assert status["status"]["readyReplicas"] == 2  # the old pods still serve
    new_pods = cluster.json(
        cluster.core.list_namespaced_pod(namespace, label_selector=f"{manifests.VERSION_LABEL}=999")
    )["items"]
    assert new_pods, "the rolling update created no pod of the missing version"
    for pod in new_pods:
        ready = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
        assert ready.get("Ready") == "False"

    def says_why() -> dict[str, Any] | None:
        """The readiness endpoint names the failure (the state the operator reads to roll
        back). The startup probe restarts such a pod now and then, so ask until one answers."""
        for pod in new_pods:
            try:
                pod_url = cluster.pod_url(namespace, pod["metadata"]["name"])
                answer = httpx.get(f"{pod_url}/v2/health/ready", timeout=2)
            except httpx.HTTPError:
                continue
            body: dict[str, Any] = answer.json()
            if answer.status_code == 503 and body.get("state") == "failed":
                return body
        return None

    body = wait_for("a new pod to report why it is not ready", says_why, 60, explain)
    assert "999" in body["reason"], body
    assert _predict(url) == before


def test_an_hpa_on_the_serving_deployment_is_accepted(
    cluster: Cluster, namespace: str, mlflow_service: str, host_mlflow: HostMlflow,
    images: dict[str, str],
) -> None:  # fmt: skip
    version = host_mlflow.register("scaled", "logistic_regression")
    spec = _spec(
        images["model-server"], mlflow_service, "scaled",
        resources={"requests": {"cpu": "100m", "memory": "200Mi"}},
        autoscaling={"minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 60},
    )  # fmt: skip
    deployment = manifests.build_deployment("scaled", namespace, spec, version)
    assert "replicas" not in deployment["spec"]  # the HPA owns the replica count
    hpa = manifests.build_hpa("scaled", namespace, spec)
    assert hpa is not None
    _apply(cluster, deployment, hpa)

    def conditions() -> dict[str, Any] | None:
        hpa = cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler_status(
            "scaled", namespace
        )
        found = {c["type"]: c for c in cluster.json(hpa)["status"].get("conditions", [])}
        return found if "AbleToScale" in found and "ScalingActive" in found else None

    found = wait_for("the HPA controller to process the HPA", conditions, 90,
                     lambda: describe_namespace(cluster, namespace))  # fmt: skip
    assert found["AbleToScale"]["status"] == "True"
    if _metrics_api_available(cluster):
        wait_for("current CPU on the HPA", lambda: _current_cpu(cluster, namespace), 120,
                 lambda: describe_namespace(cluster, namespace))  # fmt: skip
    else:
        # No metrics API on this cluster: the controller took the HPA and says why it cannot
        # read CPU (it keeps the Deployment's replicas as they are).
        assert found["ScalingActive"]["status"] == "False"
        assert found["ScalingActive"]["reason"] == "FailedGetResourceMetric"


def _metrics_api_available(cluster: Cluster) -> bool:
    result = cluster.kube.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", "-o", "json")
    if result.returncode != 0:
        return False
    conditions = json.loads(result.stdout).get("status", {}).get("conditions", [])
    return any(c["type"] == "Available" and c["status"] == "True" for c in conditions)


def _current_cpu(cluster: Cluster, namespace: str) -> bool:
    hpa = cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler_status("scaled", namespace)
    current = cluster.json(hpa)["status"].get("currentMetrics", [])
    return any("averageUtilization" in m.get("resource", {}).get("current", {}) for m in current)
