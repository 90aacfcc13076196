"""Gate evaluation: pure functions from values to Argo-Rollouts-style measurement phases.

A measurement is Successful, Failed, Inconclusive or Error. A metric-source failure is an Error
measurement, never an exception; a missing value follows the gate's `onNoData` policy and never
passes silently. The same code measures offline gates (MLflow metrics, once each) and online
gates (live metrics, a series that `verification.judge` weighs against Argo's limits).
"""

from __future__ import annotations

import math
import operator as op
from collections.abc import Callable, Sequence

from .spec import Gate, OnNoData, Op
from .status import GateStatus, MeasurementPhase

_COMPARE: dict[Op, Callable[[float, float], bool]] = {
    Op.GE: op.ge,
    Op.GT: op.gt,
    Op.LE: op.le,
    Op.LT: op.lt,
    Op.EQ: op.eq,
}
_NEGATED = {Op.GE: "<", Op.GT: "<=", Op.LE: ">", Op.LT: ">=", Op.EQ: "!="}


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _missing(value: float | None) -> bool:
    """No usable value: none at all, NaN, or ±inf (which no comparison should pass, and which
    JSON, hence the resource's status, cannot even hold)."""
    return value is None or not math.isfinite(value)


def evaluate(
    gate: Gate,
    value: float | None,
    baseline_value: float | None = None,
    *,
    source: str = "",
    error: str | None = None,
) -> GateStatus:
    """Judge ``value`` (and, for a relative gate, ``baseline_value``) against ``gate``."""

    def measured(
        phase: MeasurementPhase, message: str, threshold: float | None = None
    ) -> GateStatus:
        return GateStatus(
            name=gate.display_name, metric=gate.metric, op=gate.op.value, threshold=threshold,
            value=None if _missing(value) else value,
            baseline_value=None if _missing(baseline_value) else baseline_value,
            phase=phase, message=message, source=source,
        )  # fmt: skip

    where = f" ({source})" if source else ""
    if error is not None:
        return measured(
            MeasurementPhase.ERROR, f"gate {gate.display_name}: metric source error: {error}"
        )
    if gate.baseline is not None:
        if _missing(baseline_value):
            return _no_data(gate, measured, f"baseline {gate.baseline} has no {gate.metric}")
        assert baseline_value is not None
        threshold = baseline_value + gate.tolerance
    else:
        assert gate.threshold is not None
        threshold = gate.threshold
    if _missing(value):
        what = "no value" if value is None or math.isnan(value) else f"a non-finite value ({value})"
        return _no_data(gate, measured, f"{what} for {gate.metric}{where}", threshold)
    assert value is not None
    label = f"{gate.name!r} ({gate.metric})" if gate.name else gate.metric
    if _COMPARE[gate.op](value, threshold):
        message = f"gate {label} passed: {_fmt(value)} {gate.op.value} {_fmt(threshold)}"
        return measured(MeasurementPhase.SUCCESSFUL, message + where, threshold)
    message = f"gate {label} failed: {_fmt(value)} {_NEGATED[gate.op]} {_fmt(threshold)}"
    if gate.baseline is not None:
        message += f" ({gate.baseline} {_fmt(baseline_value or 0.0)}{gate.tolerance:+g})"
    return measured(MeasurementPhase.FAILED, message + where, threshold)


def _no_data(
    gate: Gate,
    measured: Callable[[MeasurementPhase, str, float | None], GateStatus],
    why: str,
    threshold: float | None = None,
) -> GateStatus:
    policy = gate.on_no_data
    if policy is OnNoData.PASS:
        return measured(MeasurementPhase.SUCCESSFUL, f"{why}; passed by onNoData=Pass", threshold)
    if policy is OnNoData.INCONCLUSIVE:
        return measured(
            MeasurementPhase.INCONCLUSIVE, f"{why}; inconclusive by onNoData", threshold
        )
    return measured(MeasurementPhase.FAILED, f"gate {gate.metric} failed: {why}", threshold)


def overall(verdicts: Sequence[MeasurementPhase | None]) -> MeasurementPhase | None:
    """All gates together: any Failed fails, then Error, then Inconclusive; else all must pass."""
    for phase in (MeasurementPhase.FAILED, MeasurementPhase.ERROR, MeasurementPhase.INCONCLUSIVE):
        if phase in verdicts:
            return phase
    if all(v is MeasurementPhase.SUCCESSFUL for v in verdicts):
        return MeasurementPhase.SUCCESSFUL
    return None
