"""The drift gates end to end: traffic drawn from the training data passes; traffic with one
feature shifted fails `input_drift_psi_max`, names the feature, and rolls back; the candidate's
live predictions are compared with the champion's own (read from its pods before the rollout)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlrollout.testbed.traffic import Poller
from promotion_operator.status import PromotionPhase, PromotionStatus

from .cluster import wait_for
from .mlflow_models import HostMlflow
from .promotions import base_spec
from .rows import SHIFTED, traffic
from .target import Target

PSI_GATE = {"metric": "input_drift_psi_max", "op": "<=", "threshold": 0.2}
SHIFT_GATE = {"metric": "prediction_shift", "op": "<=", "threshold": 0.1}


def promote(
    target: Target, spec: dict[str, Any], rows: Callable[[], Any], phase: PromotionPhase
) -> PromotionStatus:
    target.apply(spec)
    url = wait_for("the target's Service", target.url, 60, lambda: "")  # the operator makes it
    with Poller(url, rows, period_s=0.1):
        return target.wait(phase, 240)


def live(status: PromotionStatus) -> dict[str, Any]:
    return {g.metric: g for g in status.gates if g.source == "live"}


def test_drift_passes_on_training_traffic_and_rolls_back_a_shifted_feature(
    target: Target, host_mlflow: HostMlflow, images: dict[str, str], model: str
) -> None:
    image, url = images["model-server"], host_mlflow.url
    spec = base_spec(model, host_mlflow.register(model, "random_forest"), image, url)
    spec["rollout"]["verification"]["gates"] = [PSI_GATE]
    spec["rollout"]["verification"]["durationSeconds"] = 10
    champion = promote(target, spec, traffic(), PromotionPhase.PROMOTED)
    first = live(champion)["input_drift_psi_max"]
    assert first.value is not None
    assert first.value < 0.2, first.message
    print(f"champion on training traffic: PSI max {first.value:.3f}")

    with Poller(target.url(), traffic(seed=1), period_s=0.1):  # the champion serves traffic
        spec["model"]["version"] = host_mlflow.register(model, "random_forest")
        spec["rollout"]["verification"]["gates"] = [PSI_GATE, SHIFT_GATE]
        same = promote(target, spec, traffic(seed=2), PromotionPhase.PROMOTED)
    shift_gate = live(same)["prediction_shift"]
    assert shift_gate.value is not None, shift_gate.message  # the champion's were read
    assert shift_gate.value < 0.1, shift_gate.message
    print(f"same model, training traffic: PSI max {live(same)['input_drift_psi_max'].value:.3f},"
          f" prediction shift {shift_gate.value:.3f}")  # fmt: skip

    good = spec["model"]["version"]
    spec["model"]["version"] = host_mlflow.register(model, "random_forest")
    rolled_back = promote(target, spec, traffic(shift=3.0, seed=3), PromotionPhase.ROLLED_BACK)
    drift = live(rolled_back)["input_drift_psi_max"]
    assert f"worst feature {SHIFTED!r}" in (rolled_back.message or ""), rolled_back.message
    assert drift.value is not None
    assert drift.value > 1.0
    assert target.serving_version() == good
    print(f"'{SHIFTED}' x3: PSI max {drift.value:.2f} -> {rolled_back.message}")
