"""The fault suite: whatever fails around a promotion, the verdict is the one it would have
been, serving never rests on an unverified version, and a client polling the Service sees no
failed request. Every case records its fault and the client's count (printed at the end)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client
from sklearn.datasets import load_breast_cancer

from mlrollout.testbed.traffic import Poller
from promotion_operator.status import PromotionPhase, PromotionStatus, VersionRef

from .cluster import Cluster, wait_for
from .mlflow_models import HostMlflow
from .operator_process import OperatorProcess
from .promotions import FAULTS, base_spec
from .target import Target

ROWS = load_breast_cancer().data[:1].tolist()
PROMOTED, VERIFYING = PromotionPhase.PROMOTED, PromotionPhase.VERIFYING


@pytest.fixture
def target(cluster: Cluster, namespace: str, operator: OperatorProcess) -> Target:
    return Target(cluster, namespace, operator)


def spec_for(
    host_mlflow: HostMlflow, images: dict[str, str], model: str, version: str,
    *, replicas: int = 1, verify_s: int = 6,
) -> dict[str, Any]:  # fmt: skip
    spec = base_spec(model, version, images["model-server"], host_mlflow.url)
    spec["serving"]["replicas"] = replicas
    spec["rollout"]["verification"]["durationSeconds"] = verify_s
    return spec


def record(fault: str, poller: Poller) -> None:
    FAULTS[fault] = (poller.ok, len(poller.failures))
    assert poller.failures == [], poller.failures[:5]
    assert poller.ok > 0


def start_verifying(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str, verify_s: int
) -> str:
    """A first version of ``model``, rolled out and now verifying for ``verify_s`` seconds."""
    version = host_mlflow.register(model, "logistic_regression")
    target.apply(spec_for(host_mlflow, images, model, version, verify_s=verify_s))
    target.wait(VERIFYING, 120)
    return version


def history(status: PromotionStatus) -> list[tuple[str | None, PromotionPhase]]:
    return [(h.version, h.outcome) for h in status.history]


def test_the_operator_killed_while_verifying_reaches_the_same_verdict(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    version = start_verifying(target, host_mlflow, images, model, verify_s=20)
    with Poller(target.url(), ROWS) as poller:
        target.operator.kill()  # SIGKILL: its smoke load and its memory of the window die
        time.sleep(3)
        target.operator.start()
        status = target.wait(PROMOTED)
    record("operator SIGKILL while Verifying", poller)
    assert history(status) == [(version, PROMOTED)]
    assert host_mlflow.alias(model, "production") == version


def test_mlflow_down_while_verifying_holds_the_promotion_until_it_is_back(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    version = start_verifying(target, host_mlflow, images, model, verify_s=8)
    with Poller(target.url(), ROWS) as poller:
        host_mlflow.stop()
        try:

            def waiting() -> PromotionStatus | None:
                status = target.status()
                return status if "waiting for MLflow" in (status.message or "") else None

            held = wait_for(
                "the promotion to wait for MLflow", waiting, 90, target.operator.log_tail
            )
            assert held.phase is VERIFYING  # verified, not promoted: the alias is not written
            time.sleep(4)
            assert target.status().phase is VERIFYING
        finally:
            host_mlflow.start()
        status = target.wait(PROMOTED)
    record("MLflow down during verification and write-back", poller)
    assert host_mlflow.alias(model, "production") == version
    assert history(status) == [(version, PROMOTED)]


def test_a_serving_pod_deleted_while_verifying_does_not_fail_the_version(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    good = host_mlflow.register(model, "logistic_regression")
    candidate = host_mlflow.register(model, "random_forest")
    target.apply(spec_for(host_mlflow, images, model, good, replicas=2))
    target.wait(PROMOTED)
    target.apply(spec_for(host_mlflow, images, model, candidate, replicas=2, verify_s=20))
    target.wait(VERIFYING, 120)
    with Poller(target.url(), ROWS) as poller:
        victim = target.pods()[0]
        target.cluster.core.delete_namespaced_pod(victim, target.namespace)  # graceful
        status = target.wait(PROMOTED)
    record("a serving pod deleted while Verifying", poller)
    assert status.serving == VersionRef(version=candidate)
    assert target.serving_version() == candidate


def test_evictions_never_take_every_replica(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    version = host_mlflow.register(model, "logistic_regression")
    target.apply(spec_for(host_mlflow, images, model, version, replicas=2))
    target.wait(PROMOTED)
    policy = client.PolicyV1Api(target.cluster.api)

    def budget_allows_one() -> bool:
        pdb = policy.read_namespaced_pod_disruption_budget(target.name, target.namespace)
        return bool(target.cluster.json(pdb).get("status", {}).get("disruptionsAllowed") == 1)

    wait_for("the PodDisruptionBudget to allow one eviction", budget_allows_one, 60, lambda: "")
    with Poller(target.url(), ROWS) as poller:
        answers = [target.evict(pod) for pod in target.pods()]
        assert answers == [201, 429], answers  # the second would leave no replica: refused
        wait_for("the evicted replica to be replaced", budget_allows_one, 120, lambda: "")
        time.sleep(2)
    record("evictions of every replica (a node drain)", poller)


def test_a_newer_version_wins_and_the_superseded_one_never_serves(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    good = host_mlflow.register(model, "logistic_regression")
    superseded = host_mlflow.register(model, "random_forest")
    rejected = host_mlflow.register(model, "xgboost")
    target.apply(spec_for(host_mlflow, images, model, good, replicas=2))
    target.wait(PROMOTED)
    with Poller(target.url(), ROWS) as poller:
        target.apply(spec_for(host_mlflow, images, model, superseded, replicas=2,
                              verify_s=30))  # fmt: skip
        target.wait(VERIFYING, 120)
        assert target.serving_version() == superseded
        newest = spec_for(host_mlflow, images, model, rejected, replicas=2)
        newest["gates"] = [{"metric": "accuracy", "op": ">=", "threshold": 0.9999}]
        target.apply(newest)
        status = target.wait(PromotionPhase.REJECTED, 120)
        time.sleep(3)
    record("a newer version while one is verifying", poller)
    assert target.serving_version() == good  # not the superseded, never verified version
    assert status.serving == VersionRef(version=good)
    assert history(status)[:2] == [(rejected, PromotionPhase.REJECTED),
                                   (superseded, PromotionPhase.FAILED)]  # fmt: skip
    assert host_mlflow.alias(model, "production") == good
