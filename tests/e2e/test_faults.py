"""The fault suite: whatever fails around a promotion, the verdict is the one it would have
been, serving never rests on an unverified version, and a client polling the Service sees no
failed request. Every case records its fault and the client's count (printed at the end)."""

from __future__ import annotations

import time

from kubernetes import client

from mlrollout.testbed.traffic import Poller
from promotion_operator.events import Reason
from promotion_operator.status import PromotionPhase, PromotionStatus, VersionRef

from .cluster import wait_for
from .faults import (
    ROWS,
    history,
    kill_and_restart,
    promote_good,
    reasons,
    record,
    spec_for,
    start_verifying,
)
from .mlflow_models import HostMlflow
from .target import Target

PROMOTED, VERIFYING = PromotionPhase.PROMOTED, PromotionPhase.VERIFYING


def test_mlflow_down_through_write_back_and_an_operator_kill_holds_the_promotion_until_back(
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
            kill_and_restart(target)  # what it waits to write lives in status, not in memory
            time.sleep(6)
            assert target.status().phase is VERIFYING
        finally:
            host_mlflow.start()
        status = target.wait(PROMOTED)
    record("MLflow down during verification and write-back, operator SIGKILL meanwhile", poller)
    assert host_mlflow.alias(model, "production") == version
    assert history(status) == [(version, PROMOTED)]
    assert reasons(target, Reason.PROMOTED) == 1


def test_a_serving_pod_deleted_while_verifying_does_not_fail_the_version(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    promote_good(target, host_mlflow, images, model)
    candidate = host_mlflow.register(model, "random_forest")
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
    good = promote_good(target, host_mlflow, images, model)
    superseded = host_mlflow.register(model, "random_forest")
    rejected = host_mlflow.register(model, "xgboost")
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


def test_an_alias_moved_mid_rollout_wins_and_the_version_it_left_never_serves(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    good, superseded, rejected = (host_mlflow.register(model, "logistic_regression")
                                  for _ in range(3))  # fmt: skip
    for version, approved in ((good, "1"), (superseded, "1"), (rejected, "0")):
        host_mlflow.client.set_model_version_tag(model, version, "approved", approved)
    host_mlflow.client.set_registered_model_alias(model, "challenger", good)
    spec = spec_for(host_mlflow, images, model, good, replicas=2, verify_s=20)
    spec["model"] = {"name": model, "alias": "challenger"}
    spec["gates"] = [{"metric": "approved", "source": "tag", "op": ">=", "threshold": 1}]
    target.apply(spec)
    target.wait(PROMOTED)

    def reaches(version: str, phase: PromotionPhase) -> PromotionStatus | None:
        status = target.status()
        return status if (status.candidate_version, status.phase) == (version, phase) else None

    with Poller(target.url(), ROWS) as poller:
        host_mlflow.client.set_registered_model_alias(model, "challenger", superseded)
        wait_for("the moved alias to verify", lambda: reaches(superseded, VERIFYING), 120,
                 target.operator.log_tail)  # fmt: skip
        host_mlflow.client.set_registered_model_alias(model, "challenger", rejected)
        status = wait_for("the alias's newest version to be rejected",
                          lambda: reaches(rejected, PromotionPhase.REJECTED), 120,
                          target.operator.log_tail)  # fmt: skip
        time.sleep(3)
    record("the alias moved while a version verifies", poller)
    assert target.serving_version() == good
    assert status.serving == VersionRef(version=good)
    assert history(status)[:2] == [(rejected, PromotionPhase.REJECTED),
                                   (superseded, PromotionPhase.FAILED)]  # fmt: skip
    assert host_mlflow.alias(model, "production") == good
