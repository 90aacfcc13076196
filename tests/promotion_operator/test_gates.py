"""The gate evaluation table: comparators, relative gates, no data, errors, all gates together."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from promotion_operator.gates import evaluate, overall
from promotion_operator.spec import Gate
from promotion_operator.status import MeasurementPhase

S, F = MeasurementPhase.SUCCESSFUL, MeasurementPhase.FAILED
INC, E = MeasurementPhase.INCONCLUSIVE, MeasurementPhase.ERROR


def gate(**fields: Any) -> Gate:
    return Gate.model_validate({"metric": "accuracy", **fields})


@pytest.mark.parametrize(
    ("op", "value", "threshold", "phase"),
    [
        (">=", 0.95, 0.95, S), (">=", 0.9499, 0.95, F),
        (">", 0.96, 0.95, S), (">", 0.95, 0.95, F),
        ("<=", 50.0, 50.0, S), ("<=", 50.01, 50.0, F),
        ("<", 49.0, 50.0, S), ("<", 50.0, 50.0, F),
        ("==", 1.0, 1.0, S), ("==", 0.0, 1.0, F),
    ],
)  # fmt: skip
def test_every_comparator(op: str, value: float, threshold: float, phase: MeasurementPhase) -> None:
    measurement = evaluate(gate(op=op, threshold=threshold), value, source="run abc")
    assert measurement.phase is phase
    assert measurement.value == value
    assert measurement.threshold == threshold


def test_failure_message_names_metric_value_threshold_and_source() -> None:
    measurement = evaluate(gate(op=">=", threshold=0.95), 0.557, source="run 3f2c")
    assert measurement.message == "gate accuracy failed: 0.557 < 0.95 (run 3f2c)"


@pytest.mark.parametrize(
    ("value", "baseline", "tolerance", "phase"),
    [(0.94, 0.945, -0.005, S), (0.939, 0.945, -0.005, F), (0.95, 0.945, 0.0, S)],
)
def test_relative_gate_compares_with_baseline_plus_tolerance(
    value: float, baseline: float, tolerance: float, phase: MeasurementPhase
) -> None:
    relative = gate(op=">=", baseline="champion", tolerance=tolerance)
    measurement = evaluate(relative, value, baseline)
    assert measurement.phase is phase
    assert measurement.baseline_value == baseline
    assert measurement.threshold == pytest.approx(baseline + tolerance)
    if phase is F:
        assert "(champion 0.945-0.005)" in measurement.message


@pytest.mark.parametrize(
    ("policy", "phase", "text"),
    [
        ("Fail", F, "gate accuracy failed: no value for accuracy"),
        ("Inconclusive", INC, "inconclusive by onNoData"),
        ("Pass", S, "passed by onNoData=Pass"),
    ],
)
def test_missing_value_follows_on_no_data(policy: str, phase: MeasurementPhase, text: str) -> None:
    for missing in (None, math.nan):
        measurement = evaluate(gate(op=">=", threshold=0.9, onNoData=policy), missing)
        assert measurement.phase is phase
        assert text in measurement.message
        assert measurement.value is None


def test_an_infinite_value_is_no_data_and_never_reaches_the_status() -> None:
    """A tag reading "inf" once made the API server refuse the whole status patch."""
    measurement = evaluate(gate(op="<=", threshold=50), math.inf, source="version 3")
    assert measurement.phase is F
    assert "a non-finite value (inf) for accuracy" in measurement.message
    assert "value" not in measurement.to_json()
    json.dumps(measurement.to_json(), allow_nan=False)  # what the API server accepts


def test_missing_baseline_follows_on_no_data_too() -> None:
    relative = gate(op=">=", baseline="champion")
    measurement = evaluate(relative, 0.99, None)
    assert measurement.phase is F
    assert "baseline champion has no accuracy" in measurement.message


def test_source_errors_are_error_measurements_not_exceptions() -> None:
    measurement = evaluate(gate(op=">=", threshold=0.9), None, error="connection refused")
    assert measurement.phase is E
    assert "metric source error: connection refused" in measurement.message


def test_status_entry_uses_camel_case_and_drops_empty_fields() -> None:
    entry = evaluate(gate(op=">=", baseline="champion"), 0.9, 0.8).to_json()
    assert entry["baselineValue"] == 0.8
    assert entry["phase"] == "Successful"
    assert "baseline_value" not in entry
    assert "value" not in evaluate(gate(op=">=", threshold=1), None).to_json()


@pytest.mark.parametrize(
    ("verdicts", "result"),
    [([S, S], S), ([S, None], None), ([S, F, E], F), ([S, E, INC], E), ([INC, S], INC), ([], S)],
)
def test_overall_puts_failure_before_error_before_inconclusive(
    verdicts: list[MeasurementPhase | None], result: MeasurementPhase | None
) -> None:
    assert overall(verdicts) is result


def test_gate_needs_exactly_one_of_threshold_or_baseline() -> None:
    with pytest.raises(ValueError, match="exactly one of threshold or baseline"):
        gate(op=">=", threshold=1, baseline="champion")
    with pytest.raises(ValueError, match="exactly one of threshold or baseline"):
        gate(op=">=")
