"""The memory gate end to end: offline on what the training run measured, live on the serving
pods' working set against the container's memory limit (read from the pods' cgroups)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.datasets import load_breast_cancer

from mlrollout.testbed import models
from promotion_operator.status import MeasurementPhase, PromotionPhase

from .mlflow_models import HostMlflow
from .promotions import base_spec
from .target import Target

LIMIT = "768Mi"
LIVE_MEMORY_GATES = [
    {"metric": "memory_limit_ratio", "op": "<=", "threshold": 0.5},
    {"metric": "memory_working_set_mb", "op": "<=", "threshold": 400},
]


def _spec(model: str, version: str, image: str, url: str, gates: list[dict[str, Any]]) -> Any:
    spec = base_spec(model, version, image, url)
    spec["gates"] = gates
    spec["serving"]["resources"] = {
        "requests": {"cpu": "50m", "memory": "300Mi"}, "limits": {"memory": LIMIT},
    }  # fmt: skip
    spec["rollout"]["verification"]["gates"] += LIVE_MEMORY_GATES
    return spec


def test_a_hungry_model_is_rejected_offline_or_rolled_back_live(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    image, url = images["model-server"], host_mlflow.url
    champion = host_mlflow.register(model, "random_forest")
    measured = host_mlflow.client.get_run(host_mlflow.runs["random_forest"]["run_id"]).data.metrics
    target.apply(_spec(model, champion, image, url, [
        {"metric": "memory_rss_mb", "op": "<=", "threshold": 1024},
    ]))  # fmt: skip
    promoted = target.wait(PromotionPhase.PROMOTED, 240)
    live = {g.metric: g.value for g in promoted.gates if g.source == "live"}
    assert live["memory_limit_ratio"] is not None
    assert 0.1 < live["memory_limit_ratio"] < 0.5, promoted.gates
    print(f"champion: working set {live['memory_working_set_mb']} MiB of {LIMIT}")

    relative = [{"metric": "memory_rss_mb", "op": "<=", "baseline": "production", "tolerance": 200}]
    bloated = models.register_with_metrics(
        url, model, champion, {"memory_rss_mb": measured["memory_rss_mb"] + 600}
    )
    target.apply(_spec(model, bloated, image, url, relative))
    rejected = target.wait(PromotionPhase.REJECTED, 120)
    assert "memory_rss_mb" in (rejected.message or "")
    assert target.serving_version() == champion

    features = load_breast_cancer(as_frame=True).data.iloc[:2]
    hog = models.register_memory_hog(url, model, 450, measured, pd.DataFrame(features))
    spec = _spec(model, hog, image, url, relative)  # its run says it is no bigger
    spec["serving"]["env"] = [{"name": "MODEL_SERVER_TRUST_MODEL_CODE", "value": "true"}]
    # and live, against the champion's own pods (read before the rollout replaces them)
    spec["rollout"]["verification"]["gates"].append({
        "metric": "memory_working_set_mb", "op": "<=", "baseline": "production", "tolerance": 150,
        "name": "working set vs champion",
    })  # fmt: skip
    target.apply(spec)
    rolled_back = target.wait(PromotionPhase.ROLLED_BACK, 300)
    offline = [g for g in rolled_back.gates if g.source != "live"]
    assert {g.phase for g in offline} == {MeasurementPhase.SUCCESSFUL}
    assert "memory" in (rolled_back.message or ""), rolled_back.message
    failed = [g for g in rolled_back.gates if g.phase is MeasurementPhase.FAILED]
    assert failed, rolled_back.gates
    assert failed[0].metric in {"memory_limit_ratio", "memory_working_set_mb"}
    assert target.serving_version() == champion
    against = next(g for g in rolled_back.gates if g.name == "working set vs champion")
    assert against.phase is MeasurementPhase.FAILED, against.message
    assert against.baseline_value is not None
    assert 0.5 < against.baseline_value / (live["memory_working_set_mb"] or 1) < 2
    print(f"memory hog: working set {against.value} MiB of {LIMIT}, champion's "
          f"{against.baseline_value} MiB: {against.message}")  # fmt: skip
