"""The chart's NetworkPolicy for the in-cluster MLflow selects the pods that really reach it:
the operator the chart runs and the model servers the operator creates, nothing else."""

from __future__ import annotations

from typing import Any

from promotion_operator import manifests
from promotion_operator.spec import parse_spec

from .rendering import CHART, render

DEFAULTS = ("-f", str(CHART / "ci" / "default-values.yaml"))


def only(docs: list[dict[str, Any]], kind: str, name_part: str = "") -> dict[str, Any]:
    [found] = [d for d in docs if d["kind"] == kind and name_part in d["metadata"]["name"]]
    return found


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def serving_pod_labels() -> dict[str, str]:
    spec = parse_spec({
        "model": {"name": "churn", "version": "3"}, "mlflow": {"trackingUri": "http://mlflow:5000"},
        "serving": {"image": "server:1"},
    })  # fmt: skip
    return pod_labels(manifests.build_deployment("churn", "ml", spec, "3"))


def test_only_the_operator_serving_pods_and_labelled_clients_reach_mlflow() -> None:
    docs = render(*DEFAULTS)
    policy = only(docs, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    assert selects(policy["podSelector"], pod_labels(only(docs, "Deployment", "mlflow")))
    assert not selects(policy["podSelector"], pod_labels(only(docs, "Deployment", "operator")))
    [rule] = policy["ingress"]
    peers = rule["from"]
    operator = pod_labels(only(docs, "Deployment", "operator"))
    same_namespace = [p for p in peers if "namespaceSelector" not in p]
    assert [selects(p["podSelector"], operator) for p in same_namespace] == [True]
    anywhere = [p["podSelector"] for p in peers if p.get("namespaceSelector") == {}]
    assert [selects(s, serving_pod_labels()) for s in anywhere] == [True, False]
    assert [selects(s, {"mlrollout.dev/mlflow-client": "true"}) for s in anywhere] == [False, True]
    assert rule["ports"] == [{"port": 5000, "protocol": "TCP"}]


def test_the_policy_can_be_widened_or_turned_off() -> None:
    widened = 'mlflow.networkPolicy.extraFrom=[{"ipBlock":{"cidr":"10.0.0.0/8"}}]'
    extra = render(*DEFAULTS, "--set-json", widened)
    assert only(extra, "NetworkPolicy")["spec"]["ingress"][0]["from"][-1] == {
        "ipBlock": {"cidr": "10.0.0.0/8"}
    }
    off = render(*DEFAULTS, "--set", "mlflow.networkPolicy.enabled=false")
    assert not [d for d in off if d["kind"] == "NetworkPolicy"]
    no_mlflow = render(*DEFAULTS, "--set", "mlflow.enabled=false")
    assert not [d for d in no_mlflow if d["kind"] == "NetworkPolicy"]
