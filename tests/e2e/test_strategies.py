"""Shadow and canary promotions end to end, with a client polling the Service throughout (each
request on a new connection, its answering version read from the `x-model-version` header).

- A model trained on shuffled labels, whose run claims a high accuracy, passes every offline
  gate and is stopped in its shadow by `prediction_agreement`: no client request was answered
  by it (the client's count and the shadow pods' own counters), the champion never changed.
- A good candidate goes through a shadow, then another through a canary; no request fails.
- A candidate that fails at the first canary step answered about that step's share of the
  client's requests while it served, and none failed.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
from sklearn.datasets import load_breast_cancer

from mlrollout.testbed import models
from mlrollout.testbed.traffic import Poller
from promotion_operator.status import MeasurementPhase, PromotionPhase, PromotionStatus

from .mlflow_models import HostMlflow
from .promotions import TIMINGS, base_spec
from .rows import traffic
from .shadow_pods import ShadowPods
from .target import Target

AGREEMENT_GATE = {"metric": "prediction_agreement", "op": ">=", "threshold": 0.9}


def _spec(model: str, version: str, image: str, url: str, strategy: str) -> dict[str, Any]:
    spec = base_spec(model, version, image, url)
    spec["rollout"]["strategy"] = strategy
    verification = spec["rollout"]["verification"]
    verification.update({"durationSeconds": 12, "intervalSeconds": 3})
    if strategy == "shadow":
        verification["gates"].append(AGREEMENT_GATE)
    return spec


def _promote_first(target: Target, spec: dict[str, Any]) -> str:
    """The first version: nothing serves yet, so it rolls out by replace (and says so)."""
    target.apply(spec)
    first = target.wait(PromotionPhase.PROMOTED, 240)
    assert first.strategy is not None
    assert first.strategy.name == "replace", first.strategy
    assert "none serves yet" in first.strategy.summary
    return str(spec["model"]["version"])


def _timed(label: str, target: Target, spec: dict[str, Any], phase: PromotionPhase) -> Any:
    started = time.monotonic()
    target.apply(spec)
    status = target.wait(phase, 300)
    TIMINGS[label] = time.monotonic() - started
    return status


def _gate(status: PromotionStatus, metric: str) -> Any:
    return next(g for g in status.gates if g.metric == metric and g.source == "live")


def test_a_shadow_stops_a_model_that_disagrees_with_the_champion(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    url, image = host_mlflow.url, images["model-server"]
    spec = _spec(model, host_mlflow.register(model, "random_forest"), image, url, "shadow")
    champion = _promote_first(target, spec)
    claims = host_mlflow.client.get_run(host_mlflow.runs["random_forest"]["run_id"]).data.metrics
    spec["model"]["version"] = models.register_disagreeing(url, model, claims)
    with (
        Poller(target.url(), traffic(seed=4), period_s=0.05) as client,
        ShadowPods(target.cluster, target.namespace, target.name) as shadow,
    ):
        stopped = _timed("shadow: verdict on a disagreeing model", target, spec,
                         PromotionPhase.ROLLED_BACK)  # fmt: skip
    agreement = _gate(stopped, "prediction_agreement")
    assert agreement.phase is MeasurementPhase.FAILED, stopped.gates
    assert agreement.value is not None
    assert agreement.value < 0.8
    assert "gate prediction_agreement failed: 0.5" in (stopped.message or ""), stopped.message
    assert "< 0.9 (live); agreed on" in (stopped.message or ""), stopped.message
    offline = [g for g in stopped.gates if g.source != "live"]
    assert {g.phase for g in offline} == {MeasurementPhase.SUCCESSFUL}, offline
    assert client.failures == []
    assert set(client.versions) == {champion}, client.versions  # no user met the candidate
    assert shadow.mirrored > 0, shadow.seen
    assert shadow.user_requests == 0, shadow.seen
    assert target.serving_version() == champion
    assert not shadow.pods_now()  # removed
    mirrored = stopped.strategy
    assert mirrored is not None
    assert (mirrored.mirrored or 0) > 0, mirrored
    print(f"shadow: agreement {agreement.value:.3f} ({agreement.message}); "
          f"{mirrored.mirrored} mirrored, {mirrored.dropped} dropped, "
          f"{mirrored.mirror_failed} failed; client {client.ok} answers, all by {champion}; "
          f"the shadow's pods: {shadow.seen}")  # fmt: skip


def test_good_candidates_go_through_a_shadow_and_a_canary_without_a_failed_request(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    url, image = host_mlflow.url, images["model-server"]
    spec = _spec(model, host_mlflow.register(model, "random_forest"), image, url, "shadow")
    spec["serving"]["autoscaling"] = {"minReplicas": 2, "maxReplicas": 3}
    _promote_first(target, spec)
    with Poller(target.url(), traffic(seed=5), period_s=0.05) as client:
        spec["model"]["version"] = shadowed = host_mlflow.register(model, "random_forest")
        promoted = _timed("shadow: promote a good model", target, spec, PromotionPhase.PROMOTED)
        agreement = _gate(promoted, "prediction_agreement")
        assert agreement.value is not None
        assert agreement.value >= 0.99, agreement.message  # the same model: the same answers

        canary = _spec(model, host_mlflow.register(model, "random_forest"), image, url, "canary")
        canary["serving"]["autoscaling"] = {"minReplicas": 2, "maxReplicas": 3}
        canary["rollout"]["canary"] = {"steps": [50, 100]}
        done = _timed("canary: promote a good model", target, canary, PromotionPhase.PROMOTED)
    assert client.failures == [], client.failures[:5]
    assert client.versions[shadowed] > 0
    assert client.versions[canary["model"]["version"]] > 0
    assert done.strategy is not None
    assert (done.strategy.step, done.strategy.steps) == (2, 2)
    assert target.serving_version() == canary["model"]["version"]
    # The HPA scaled the stable side throughout, and scales the candidate now.
    hpa = target.cluster.json(
        target.cluster.autoscaling.read_namespaced_horizontal_pod_autoscaler(
            target.name, target.namespace
        )
    )
    assert hpa["spec"]["scaleTargetRef"]["name"] == target.name
    assert hpa["status"]["currentReplicas"] >= 2, hpa["status"]
    print(f"shadow then canary: {client.ok} answers, none failed, by version {client.versions}; "
          f"agreement {agreement.value:.3f}")  # fmt: skip


def test_a_canary_failing_its_first_step_met_only_that_steps_share_of_requests(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    url, image = host_mlflow.url, images["model-server"]
    spec = _spec(model, host_mlflow.register(model, "random_forest"), image, url, "canary")
    spec["serving"].update({
        "replicas": 3, "env": [{"name": "MODEL_SERVER_TRUST_MODEL_CODE", "value": "true"}],
        "resources": {"requests": {"cpu": "50m", "memory": "200Mi"}, "limits": {"memory": "768Mi"}},
    })  # fmt: skip
    spec["rollout"]["canary"] = {"steps": [25, 100]}
    verification = spec["rollout"]["verification"]
    verification["gates"].append({"metric": "memory_working_set_mb", "op": "<=", "threshold": 400})
    verification.update({"intervalSeconds": 4, "failureLimit": 2})  # a few rounds of traffic
    champion = _promote_first(target, spec)
    measured = host_mlflow.client.get_run(host_mlflow.runs["random_forest"]["run_id"]).data.metrics
    features = pd.DataFrame(load_breast_cancer(as_frame=True).data.iloc[:2])
    spec["model"]["version"] = hog = models.register_memory_hog(url, model, 450, measured, features)
    with Poller(target.url(), traffic(seed=6), period_s=0.03) as client:
        failed = _timed("canary: verdict at the first step", target, spec,
                        PromotionPhase.ROLLED_BACK)  # fmt: skip
    assert "memory_working_set_mb" in (failed.message or ""), failed.message
    assert failed.strategy is not None
    assert (failed.strategy.step, failed.strategy.canary_replicas) == (1, 1), failed.strategy
    assert client.failures == [], client.failures[:5]
    assert target.serving_version() == champion
    # While the canary served (its first answer to its last), its share of the answers:
    times = [t for t, version in client.answers if version == hog]
    assert len(times) >= 20, client.versions
    during = [v for t, v in client.answers if times[0] <= t <= times[-1]]
    share = during.count(hog) / len(during)
    assert 0.12 <= share <= 0.40, (share, len(during))
    assert set(during) == {champion, hog}
    print(f"canary step 1 (25%: 1 of 4 pods): it answered {during.count(hog)} of {len(during)} "
          f"requests while it served ({share:.1%}); none failed; {failed.message}")  # fmt: skip
