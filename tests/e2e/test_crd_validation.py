"""Invalid ModelPromotions are refused by `kubectl apply` with a message naming the field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mlrollout.testbed.promotions import promotion

from .cluster import Cluster

VALID: dict[str, Any] = {
    "model": {"name": "churn", "version": "3"},
    "mlflow": {"trackingUri": "http://mlflow:5000"},
    "gates": [{"metric": "accuracy", "op": ">=", "threshold": 0.9}],
    "serving": {"image": "localhost/mlrollout-model-server:dev"},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """VALID with ``value`` at a dotted path (list indices as numbers); None deletes the key."""
    spec = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node: Any = spec
    for key in parents:
        node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
    if value is None:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return spec


INVALID = {
    "version and alias": (_with("model.alias", "champion"), "spec.model"),
    "neither version nor alias": (_with("model.version", None), "spec.model"),
    "version not a number": (_with("model.version", "latest"), "spec.model.version"),
    "version as an integer": (_with("model.version", 3), "spec.model.version"),
    "no model name": (_with("model.name", None), "spec.model.name"),
    "no image": (_with("serving.image", None), "spec.serving.image"),
    "threshold not a number": (_with("gates.0.threshold", "high"), "spec.gates[0].threshold"),
    "threshold and baseline": (_with("gates.0.baseline", "champion"), "spec.gates[0]"),
    "neither threshold nor baseline": (_with("gates.0.threshold", None), "spec.gates[0]"),
    "tolerance without baseline": (_with("gates.0.tolerance", 0.01), "spec.gates[0]"),
    "unknown comparator": (_with("gates.0.op", "~="), "spec.gates[0].op"),
    "unknown onNoData": (_with("gates.0.onNoData", "Ignore"), "spec.gates[0].onNoData"),
    "minReplicas above maxReplicas": (
        _with("serving.autoscaling", {"minReplicas": 5, "maxReplicas": 2}),
        "spec.serving.autoscaling",
    ),
    "tracking URI not http": (
        _with("mlflow.trackingUri", "file:///tmp"), "spec.mlflow.trackingUri"
    ),
    "progress deadline too short": (
        _with("rollout", {"progressDeadlineSeconds": 1}),
        "spec.rollout.progressDeadlineSeconds",
    ),
    "online gate with a baseline": (
        _with("rollout", {"verification": {"gates": [
            {"metric": "latency_p95_ms", "op": "<=", "baseline": "production"}]}}),
        "spec.rollout.verification.gates",
    ),
    "env redirecting the model": (
        _with("serving", {"image": "i", "env": [{"name": "MODEL_SERVER_MODEL_URI",
                                                  "value": "models:/other/1"}]}),
        "spec.serving.env may not set MODEL_SERVER_MODEL_URI",
    ),
    "alias with a space": (
        _with("model", {"name": "churn", "alias": "my alias"}), "spec.model.alias"
    ),
    "version too long": (_with("model.version", "1" * 21), "spec.model.version"),
    "empty metric": (_with("gates.0.metric", ""), "spec.gates[0].metric"),
    "unknown gate source": (_with("gates.0.source", "param"), "spec.gates[0].source"),
    "baseline not an alias": (
        _with("gates", [{"metric": "accuracy", "op": ">=", "baseline": "the champion!"}]),
        "spec.gates[0].baseline",
    ),
    "too many gates": (
        _with("gates", [{"metric": "accuracy", "op": ">=", "threshold": 0.9}] * 33),
        "spec.gates",
    ),
    "empty image": (_with("serving.image", ""), "spec.serving.image"),
    "negative replicas": (_with("serving.replicas", -1), "spec.serving.replicas"),
    "port zero": (_with("serving.port", 0), "spec.serving.port"),
    "unknown pull policy": (
        _with("serving.imagePullPolicy", "Sometimes"), "spec.serving.imagePullPolicy"
    ),
    "not a quantity": (
        _with("serving.resources", {"requests": {"cpu": "lots"}}),
        "spec.serving.resources.requests.cpu",
    ),
    "CPU target zero": (
        _with("serving.autoscaling", {"targetCPUUtilizationPercentage": 0}),
        "spec.serving.autoscaling.targetCPUUtilizationPercentage",
    ),
    "negative scale-down window": (
        _with("serving.autoscaling", {"scaleDownStabilizationSeconds": -1}),
        "spec.serving.autoscaling.scaleDownStabilizationSeconds",
    ),
    "a toleration without a key that is not Exists": (
        _with("serving.tolerations", [{"operator": "Equal", "value": "x"}]),
        "spec.serving.tolerations[] without a key must have operator Exists",
    ),
    "a toleration with an unknown effect": (
        _with("serving.tolerations", [{"key": "k", "effect": "NeverSchedule"}]),
        "spec.serving.tolerations[0].effect",
    ),
    "tolerationSeconds without NoExecute": (
        _with("serving.tolerations", [{"key": "k", "effect": "NoSchedule",
                                       "tolerationSeconds": 5}]),
        "spec.serving.tolerations[].tolerationSeconds applies only to effect NoExecute",
    ),
    "a node selector value that is not a string": (
        _with("serving.nodeSelector", {"pool": {"name": "gpu"}}), "spec.serving.nodeSelector.pool",
    ),
    "env entry without a name": (
        _with("serving.env", [{"value": "x"}]), "spec.serving.env[0].name"
    ),
    "Secret reference without a name": (
        _with("mlflow.credentialsSecretRef", {"usernameKey": "user"}),
        "spec.mlflow.credentialsSecretRef.name",
    ),
    "interval zero": (
        _with("rollout", {"verification": {"intervalSeconds": 0}}),
        "spec.rollout.verification.intervalSeconds",
    ),
    "smoke load too heavy": (
        _with("rollout", {"verification": {"smokeLoadRps": 1000}}),
        "spec.rollout.verification.smokeLoadRps",
    ),
    "promotion alias with a space": (
        _with("promotion.alias", "pro duction"), "spec.promotion.alias"
    ),
    "a misspelt field": (_with("replicas", 2), "spec.replicas"),
    "credentials in the tracking URI": (
        _with("mlflow.trackingUri", "http://admin:hunter2@mlflow:5000"),
        "spec.mlflow.trackingUri must not carry credentials",
    ),
    "online gate on an unknown metric": (
        _with("rollout", {"verification": {"gates": [
            {"metric": "accuracy", "op": ">=", "threshold": 0.9}]}}),
        "spec.rollout.verification.gates",
    ),
    "unknown strategy": (
        _with("rollout", {"strategy": "bluegreen"}), "spec.rollout.strategy"
    ),
    "canary steps going down": (
        _with("rollout", {"strategy": "canary", "canary": {"steps": [50, 20, 100]}}),
        "spec.rollout.canary.steps must increase and end at 100",
    ),
    "canary steps not ending at 100": (
        _with("rollout", {"strategy": "canary", "canary": {"steps": [20, 50]}}),
        "spec.rollout.canary.steps must increase and end at 100",
    ),
    "canary step repeated": (
        _with("rollout", {"canary": {"steps": [50, 50, 100]}}), "spec.rollout.canary.steps[1]"
    ),
    "canary step above 100": (
        _with("rollout", {"canary": {"steps": [150]}}), "spec.rollout.canary.steps[0]"
    ),
    "mirror share zero": (
        _with("rollout", {"strategy": "shadow", "shadow": {"mirrorPercent": 0}}),
        "spec.rollout.shadow.mirrorPercent",
    ),
    "mirror share above 100": (
        _with("rollout", {"strategy": "shadow", "shadow": {"mirrorPercent": 150}}),
        "spec.rollout.shadow.mirrorPercent",
    ),
    "negative agreement tolerance": (
        _with("rollout", {"shadow": {"agreementTolerance": -1}}),
        "spec.rollout.shadow.agreementTolerance",
    ),
    "agreement gate without a shadow": (
        _with("rollout", {"strategy": "canary", "verification": {"gates": [
            {"metric": "prediction_agreement", "op": ">=", "threshold": 0.9}]}}),
        "prediction_agreement needs spec.rollout.strategy shadow",
    ),
    "unknown approval stage": (
        _with("rollout", {"approval": "beforeLunch"}), "spec.rollout.approval"
    ),
    "approval deadline of zero": (
        _with("rollout", {"approvalDeadlineSeconds": 0}), "spec.rollout.approvalDeadlineSeconds"
    ),
    "paused not a boolean": (_with("paused", "yes"), "spec.paused"),
}  # fmt: skip


@pytest.mark.parametrize(("spec", "field"), INVALID.values(), ids=INVALID.keys())
def test_invalid_resources_are_refused_at_apply(
    cluster: Cluster, namespace: str, crd: None, spec: dict[str, Any], field: str
) -> None:
    result = cluster.kube.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=json.dumps(promotion("bad", spec))
    )
    assert result.returncode != 0, f"accepted: {result.stdout}"
    assert field in result.stderr, result.stderr
    assert "is invalid" in result.stderr or "unknown field" in result.stderr, result.stderr


@pytest.mark.parametrize(
    "name", ["n" * 64, "with.dot", "9-starts-with-a-digit"], ids=["too long", "dot", "digit"]
)
def test_a_name_no_service_can_take_is_refused(
    cluster: Cluster, namespace: str, crd: None, name: str
) -> None:
    """The serving Service is named after the ModelPromotion: a DNS-1035 label."""
    body = json.dumps(promotion(name, VALID))
    result = cluster.kube.kubectl("apply", "-n", namespace, "-f", "-", stdin=body)
    assert result.returncode != 0, f"accepted: {result.stdout}"
    assert "metadata.name" in result.stderr, result.stderr


def test_there_are_at_least_thirty_refusals() -> None:
    assert len(INVALID) + 4 >= 30


def test_a_shadow_needs_a_name_its_service_can_take(
    cluster: Cluster, namespace: str, crd: None
) -> None:
    """The shadow's Service is `<name>-shadow`: also a DNS-1035 label, of at most 63."""
    shadowed = _with("rollout", {"strategy": "shadow"})
    refused = cluster.kube.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=json.dumps(promotion("n" * 57, shadowed))
    )
    assert refused.returncode != 0, f"accepted: {refused.stdout}"
    assert "at most 56 characters with spec.rollout.strategy shadow" in refused.stderr
    accepted = cluster.kube.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=json.dumps(promotion("n" * 56, shadowed))
    )
    assert accepted.returncode == 0, accepted.stderr


def test_a_valid_resource_is_accepted_with_defaults(
    cluster: Cluster, namespace: str, crd: None
) -> None:
    result = cluster.kube.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=json.dumps(promotion("good", VALID))
    )
    assert result.returncode == 0, result.stderr
    got = json.loads(
        cluster.kube.kubectl("get", "mp", "good", "-n", namespace, "-o", "json").stdout
    )
    assert got["spec"]["promotion"]["alias"] == "production"
    assert got["spec"]["gates"][0]["onNoData"] == "Fail"
    assert got["spec"]["serving"]["port"] == 8080
    assert got["spec"]["rollout"]["progressDeadlineSeconds"] == 300
    assert got["spec"]["rollout"]["verification"]["durationSeconds"] == 60
    assert got["spec"]["rollout"]["strategy"] == "replace"
    assert got["spec"]["rollout"]["approval"] == "none"
    assert got["spec"]["paused"] is False


def test_every_toleration_kubernetes_takes_is_accepted(
    cluster: Cluster, namespace: str, crd: None
) -> None:
    """The CEL rules refuse only what a pod would refuse: these three forms stay whole."""
    tolerations = [
        {"operator": "Exists"},
        {"key": "pool", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
        {"key": "spot", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
    ]
    spec = _with("serving.tolerations", tolerations)
    spec["serving"]["nodeSelector"] = {"pool": "gpu"}
    result = cluster.kube.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=json.dumps(promotion("pooled", spec))
    )
    assert result.returncode == 0, result.stderr
    got = json.loads(
        cluster.kube.kubectl("get", "mp", "pooled", "-n", namespace, "-o", "json").stdout
    )
    assert got["spec"]["serving"]["tolerations"] == tolerations
    assert got["spec"]["serving"]["nodeSelector"] == {"pool": "gpu"}
