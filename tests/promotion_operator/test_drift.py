"""Drift gate values from live profiles: PSI per feature against the reference, the worst
feature named, too few rows as no data, and the prediction shift against the champion."""

from __future__ import annotations

from typing import Any

import pytest

from promotion_operator.drift import (
    INPUT_DRIFT_PSI_MAX,
    MIN_ROWS,
    PREDICTION_SHIFT,
    drift_values,
    psi,
    shift,
)
from promotion_operator.ports import LiveSample, PodCounters
from promotion_operator.spec import Verification
from promotion_operator.status import MeasurementPhase, VerificationProgress
from promotion_operator.verification import judge_round

REFERENCE = {
    "features": [
        {"name": "age", "edges": [30.0, 50.0], "shares": [0.3, 0.4, 0.3]},
        {"name": "income", "edges": [1.0], "shares": [0.5, 0.5]},
    ],
    "predictions": {"0": 0.6, "1": 0.4},
}


def pod(age: list[int], income: list[int], predictions: dict[str, int]) -> PodCounters:
    live = {"rows": sum(age), "features": {"age": age, "income": income},
            "predictions": predictions}  # fmt: skip
    return PodCounters(0, 0, profile={"reference": REFERENCE, "live": live})


def test_psi_is_zero_for_the_same_shares_and_grows_with_the_shift() -> None:
    assert psi([0.3, 0.4, 0.3], [0.3, 0.4, 0.3]) == 0
    small, large = psi([0.3, 0.4, 0.3], [0.25, 0.45, 0.3]), psi([0.3, 0.4, 0.3], [0.0, 0.1, 0.9])
    assert 0 < small < 0.1 < 0.2 < large  # the rule of thumb's "no shift" and "major shift"


def test_the_worst_feature_across_the_pods_is_named() -> None:
    pods = {  # age as trained; income all in its upper bin: a shifted feature
        "a": pod([30, 40, 30], [0, 100], {"0": 60, "1": 40}),
        "b": pod([30, 40, 30], [0, 100], {"0": 50, "1": 50}),
    }
    values, details = drift_values(LiveSample(pods), {"0": 0.6, "1": 0.4})
    assert values[INPUT_DRIFT_PSI_MAX] == pytest.approx(psi([0.5, 0.5], [0.0, 1.0]))
    assert "worst feature 'income', 200 live rows" in details[INPUT_DRIFT_PSI_MAX]
    assert values[PREDICTION_SHIFT] == pytest.approx(0.05)  # 0.55/0.45 against 0.6/0.4


def test_too_few_rows_or_no_champion_is_no_data() -> None:
    few = {"a": pod([10, 10, 10], [15, 15], {"0": 30})}
    values, details = drift_values(LiveSample(few), {"0": 1.0})
    assert values == {INPUT_DRIFT_PSI_MAX: None, PREDICTION_SHIFT: None}
    assert f"30 live rows, fewer than the {MIN_ROWS}" in details[INPUT_DRIFT_PSI_MAX]
    enough = {"a": pod([30, 40, 30], [50, 50], {"0": 100})}
    values, details = drift_values(LiveSample(enough), None)
    assert values[PREDICTION_SHIFT] is None
    assert "no live predictions of a champion" in details[PREDICTION_SHIFT]
    assert drift_values(LiveSample({"a": PodCounters(5, 0)}), None)[0][INPUT_DRIFT_PSI_MAX] is None


def test_shift_is_the_share_of_predictions_that_would_change() -> None:
    assert shift({"0": 1.0}, {"1": 1.0}) == 1.0
    assert shift({"0": 0.5, "1": 0.5}, {"0": 0.5, "1": 0.5}) == 0.0


def test_the_gate_message_names_the_feature_and_no_data_follows_on_no_data() -> None:
    gates: list[dict[str, Any]] = [
        {"metric": "input_drift_psi_max", "op": "<=", "threshold": 0.2},
        {"metric": "prediction_shift", "op": "<=", "threshold": 0.1, "onNoData": "Inconclusive"},
    ]
    verification = Verification.model_validate({"gates": gates})
    shifted = {"a": pod([30, 40, 30], [0, 100], {"0": 100})}
    values, details = drift_values(LiveSample(shifted), None)
    progress = VerificationProgress.model_validate({"startedAt": "2026-01-01T00:00:00Z"})
    round_ = judge_round(verification, progress, values, None, details)
    drift, prediction = round_.measurements
    assert drift.phase is MeasurementPhase.FAILED
    assert "input_drift_psi_max failed" in drift.message
    assert "worst feature 'income'" in drift.message
    assert prediction.phase is MeasurementPhase.INCONCLUSIVE


def test_a_live_memory_gate_with_a_baseline_compares_with_the_champion() -> None:
    gate = {"metric": "memory_working_set_mb", "op": "<=", "baseline": "production",
            "tolerance": 100}  # fmt: skip
    verification = Verification.model_validate({"gates": [gate]})
    progress = VerificationProgress.model_validate({"startedAt": "2026-01-01T00:00:00Z"})
    values: dict[str, float | None] = {"memory_working_set_mb": 500.0}
    over = judge_round(verification, progress, values, None, None, {"memory_working_set_mb": 300.0})
    assert over.measurements[0].phase is MeasurementPhase.FAILED
    assert over.measurements[0].baseline_value == 300.0
    unknown = judge_round(verification, progress, values, None, None, {})
    assert unknown.measurements[0].phase is MeasurementPhase.FAILED  # onNoData: Fail
    assert "baseline production has no memory_working_set_mb" in unknown.measurements[0].message
