"""The operator end to end: a real operator process, the real API server and kubelet, real
model server pods, a real MLflow server. Each test owns a namespace and a registered model."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sklearn.datasets import load_breast_cancer

from mlrollout.testbed.promotions import promotion
from mlrollout.testbed.traffic import Poller
from promotion_operator import manifests
from promotion_operator.events import Reason
from promotion_operator.status import (
    ConditionType,
    MeasurementPhase,
    PromotionPhase,
    PromotionStatus,
    VersionRef,
)

from .cluster import Cluster, wait_for
from .mlflow_models import HostMlflow
from .operator_process import OperatorProcess
from .promotions import (  # fmt: skip
    TIMINGS,
    apply,
    base_spec,
    events,
    service_url,
    status_of,
)
from .target import Target

ROWS = load_breast_cancer().data[:2].tolist()


def _promote_first(
    cluster: Cluster, namespace: str, operator: OperatorProcess, spec: dict[str, Any]
) -> PromotionStatus:
    apply(cluster, namespace, promotion("target", spec))
    return _wait(cluster, namespace, operator, PromotionPhase.PROMOTED, 240)


def _wait(
    cluster: Cluster, namespace: str, operator: OperatorProcess, phase: PromotionPhase,
    timeout_s: float,
) -> PromotionStatus:  # fmt: skip
    return Target(cluster, namespace, operator).wait(phase, timeout_s)


def _template_version(cluster: Cluster, namespace: str) -> tuple[str, int]:
    deployment = cluster.json(cluster.apps.read_namespaced_deployment("target", namespace))
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return labels[manifests.VERSION_LABEL], deployment["metadata"]["generation"]


@pytest.mark.smoke  # also run on the second provider by CI (make test-e2e-smoke)
def test_a_good_version_is_promoted_and_the_alias_follows(
    cluster: Cluster, namespace: str, operator: OperatorProcess, host_mlflow: HostMlflow,
    images: dict[str, str], model: str,
) -> None:  # fmt: skip
    first = host_mlflow.register(model, "logistic_regression")
    second = host_mlflow.register(model, "random_forest")
    spec = base_spec(model, first, images["model-server"], host_mlflow.url)
    spec["serving"]["autoscaling"] = {"minReplicas": 1, "maxReplicas": 2}

    started = time.monotonic()
    promoted = _promote_first(cluster, namespace, operator, spec)
    TIMINGS["kubectl apply -> Promoted (first version)"] = time.monotonic() - started

    status = promoted
    assert status.serving == VersionRef(version=first)
    assert status.last_known_good == VersionRef(version=first)
    assert {g.phase for g in status.gates} == {MeasurementPhase.SUCCESSFUL}
    conditions = {c.type: c.status for c in status.conditions}
    assert conditions[ConditionType.GATES_PASSED] == "True"
    assert conditions[ConditionType.AVAILABLE] == "True"
    assert host_mlflow.alias(model, "production") == first
    tags = host_mlflow.client.get_model_version(model, first).tags
    assert tags["mlrollout.dev/outcome"] == "promoted"
    assert _template_version(cluster, namespace)[0] == first
    hpa = cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler("target", namespace)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (1, 2)
    deployment = cluster.json(cluster.apps.read_namespaced_deployment("target", namespace))
    assert [o["kind"] for o in deployment["metadata"]["ownerReferences"]] == ["ModelPromotion"]
    posted = events(cluster, namespace, "target")
    assert ("Normal", "Promoted") in posted
    # Only the operator's own Events: none of kopf's ("Logging": "Timer ... succeeded").
    assert {reason for _, reason in posted} <= {r.value for r in Reason}, posted
    listed = cluster.kube.kubectl("get", "mlrollout", "-n", namespace)  # the category
    row = next(line for line in listed.stdout.splitlines() if line.startswith("target"))
    assert row.split()[1:5] == ["Promoted", model, first, first], listed.stdout + listed.stderr

    # The operator's own endpoints: kopf liveness and Prometheus metrics.
    assert httpx.get(f"http://127.0.0.1:{operator.liveness_port}/healthz", timeout=5).is_success
    scraped = httpx.get(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5).text
    labels = f'namespace="{namespace}",promotion="target"'
    assert f'mlrollout_promotions_total{{{labels},result="Promoted"}} 1.0' in scraped, scraped
    assert 'mlrollout_phase_duration_seconds_count{phase="RollingOut"}' in scraped, scraped

    # A new version, gated relative to the champion behind the `production` alias.
    spec["model"]["version"] = second
    spec["gates"].append(
        {"metric": "accuracy", "op": ">=", "baseline": "production", "tolerance": -0.05}
    )
    apply(cluster, namespace, promotion("target", spec))
    promoted = _wait(cluster, namespace, operator, PromotionPhase.PROMOTED, 240)
    relative = next(g for g in promoted.gates if g.baseline_value is not None)
    assert relative.phase is MeasurementPhase.SUCCESSFUL
    assert host_mlflow.alias(model, "production") == second
    assert _template_version(cluster, namespace)[0] == second
    assert [h.version for h in promoted.history][:2] == [second, first]


def test_a_version_failing_an_offline_gate_is_rejected_and_nothing_changes(
    cluster: Cluster, namespace: str, operator: OperatorProcess, host_mlflow: HostMlflow,
    images: dict[str, str], model: str,
) -> None:  # fmt: skip
    good = host_mlflow.register(model, "logistic_regression")
    weak = host_mlflow.register(model, "xgboost")
    spec = base_spec(model, good, images["model-server"], host_mlflow.url)
    spec["rollout"]["verification"] = {"durationSeconds": 0}
    _promote_first(cluster, namespace, operator, spec)
    before = _template_version(cluster, namespace)

    spec["model"]["version"] = weak
    spec["gates"] = [{"metric": "accuracy", "op": ">=", "threshold": 0.9999}]
    started = time.monotonic()
    apply(cluster, namespace, promotion("target", spec))
    rejected = _wait(cluster, namespace, operator, PromotionPhase.REJECTED, 120)
    TIMINGS["kubectl apply -> Rejected"] = time.monotonic() - started

    status = rejected
    message = status.message or ""
    assert "gate accuracy failed" in message, message
    assert "< 0.9999" in message, message
    assert [g.phase for g in status.gates] == [MeasurementPhase.FAILED]
    assert (status.gates[0].value or 1.0) < 0.9999
    assert status.serving == VersionRef(version=good)
    time.sleep(3)  # a late write to the Deployment would show here
    assert _template_version(cluster, namespace) == before  # untouched: same version, generation
    assert host_mlflow.alias(model, "production") == good
    assert host_mlflow.client.get_model_version(model, weak).tags["mlrollout.dev/outcome"] == (
        "rejected"
    )
    assert ("Warning", "Rejected") in events(cluster, namespace, "target")


def test_a_version_that_cannot_load_is_rolled_back_without_a_failed_request(
    cluster: Cluster, namespace: str, operator: OperatorProcess, host_mlflow: HostMlflow,
    images: dict[str, str], model: str,
) -> None:  # fmt: skip
    good = host_mlflow.register(model, "logistic_regression")
    broken = host_mlflow.register_unloadable(model, "logistic_regression")
    spec = base_spec(model, good, images["model-server"], host_mlflow.url)
    spec["serving"]["replicas"] = 2
    _promote_first(cluster, namespace, operator, spec)
    url = service_url(cluster, namespace, "target")

    spec["model"]["version"] = broken
    with Poller(url, ROWS) as poller:
        apply(cluster, namespace, promotion("target", spec))
        _wait(cluster, namespace, operator, PromotionPhase.ROLLING_OUT, 60)
        rolled_back = _wait(cluster, namespace, operator, PromotionPhase.ROLLED_BACK, 240)
        time.sleep(2)

    assert poller.failures == [], poller.failures[:5]
    assert poller.ok > 20, poller.ok
    status = rolled_back
    assert f"rollout of version {broken} failed" in (status.message or ""), status.message
    assert status.serving == VersionRef(version=good)
    assert status.candidate_version == broken
    assert _template_version(cluster, namespace)[0] == good
    assert host_mlflow.alias(model, "production") == good
    tags = host_mlflow.client.get_model_version(model, broken).tags
    assert tags["mlrollout.dev/outcome"] == "rolled-back"
    kinds = events(cluster, namespace, "target")
    assert {("Warning", "RollingBack"), ("Warning", "RolledBack")} <= set(kinds)


def test_a_version_failing_an_online_gate_is_rolled_back(
    cluster: Cluster, namespace: str, operator: OperatorProcess, host_mlflow: HostMlflow,
    images: dict[str, str], model: str,
) -> None:  # fmt: skip
    good = host_mlflow.register(model, "logistic_regression")
    slow = host_mlflow.register(model, "random_forest")
    spec = base_spec(model, good, images["model-server"], host_mlflow.url)
    _promote_first(cluster, namespace, operator, spec)

    spec["model"]["version"] = slow
    spec["rollout"]["verification"]["gates"] = [
        {
            "name": "p95 under 1 microsecond",
            "metric": "latency_p95_ms",
            "op": "<=",
            "threshold": 0.001,
        }
    ]
    apply(cluster, namespace, promotion("target", spec))
    rolled_back = _wait(cluster, namespace, operator, PromotionPhase.ROLLED_BACK, 240)

    status = rolled_back
    message = status.message or ""
    assert "gate 'p95 under 1 microsecond' (latency_p95_ms) failed" in message, message
    online = [g for g in status.gates if g.name == "p95 under 1 microsecond"]
    assert [g.phase for g in online] == [MeasurementPhase.FAILED]
    assert (online[0].value or 0.0) > 0.001
    assert status.serving == VersionRef(version=good)
    assert _template_version(cluster, namespace)[0] == good
    assert host_mlflow.alias(model, "production") == good


def test_with_mlflow_down_nothing_rolls_out_until_it_is_back(
    cluster: Cluster, namespace: str, operator: OperatorProcess, host_mlflow: HostMlflow,
    images: dict[str, str], model: str,
) -> None:  # fmt: skip
    version = host_mlflow.register(model, "logistic_regression")
    spec = base_spec(model, version, images["model-server"], host_mlflow.url)
    host_mlflow.stop()
    try:
        apply(cluster, namespace, promotion("target", spec))

        def says_why() -> PromotionStatus | None:
            status = status_of(cluster, namespace, "target")
            return status if "MLflow unreachable" in (status.message or "") else None

        waiting = wait_for("status to say MLflow is unreachable", says_why, 60, operator.log_tail)
        assert waiting.phase is PromotionPhase.EVALUATING
        assert {g.phase for g in waiting.gates} == {MeasurementPhase.ERROR}
        time.sleep(8)  # several reconcile intervals with MLflow still down
        deployments = cluster.apps.list_namespaced_deployment(namespace).items
        assert deployments == [], "a Deployment was created while MLflow was unreachable"
        assert status_of(cluster, namespace, "target").phase is PromotionPhase.EVALUATING
    finally:
        host_mlflow.start()
    promoted = _wait(cluster, namespace, operator, PromotionPhase.PROMOTED, 240)
    assert promoted.serving == VersionRef(version=version)
    assert host_mlflow.alias(model, "production") == version


def test_an_operator_killed_mid_rollout_resumes_and_finishes(
    cluster: Cluster, namespace: str, operator: OperatorProcess, host_mlflow: HostMlflow,
    images: dict[str, str], model: str,
) -> None:  # fmt: skip
    version = host_mlflow.register(model, "logistic_regression")
    spec = base_spec(model, version, images["model-server"], host_mlflow.url)
    spec["rollout"]["verification"]["durationSeconds"] = 10
    apply(cluster, namespace, promotion("target", spec))
    _wait(cluster, namespace, operator, PromotionPhase.ROLLING_OUT, 90)
    operator.kill()
    time.sleep(3)
    assert status_of(cluster, namespace, "target").phase is PromotionPhase.ROLLING_OUT

    operator.start()
    promoted = _wait(cluster, namespace, operator, PromotionPhase.PROMOTED, 240)
    history = promoted.history
    assert [(h.version, h.outcome) for h in history] == [(version, PromotionPhase.PROMOTED)]
    assert host_mlflow.alias(model, "production") == version
    deployment = cluster.json(cluster.apps.read_namespaced_deployment("target", namespace))
    assert deployment["status"]["readyReplicas"] == 1
