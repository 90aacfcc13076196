"""Gate evaluation: pure functions from values to Argo-Rollouts-style measurement phases.

A measurement is Successful, Failed, Inconclusive or Error. A metric-source failure is an Error
measurement, never an exception; a missing value follows the gate's `onNoData` policy and never
passes silently. The same code judges offline gates (MLflow metrics, one measurement each) and
online gates (live metrics, `count` measurements judged against failure/inconclusive/error
limits, as Argo's AnalysisRun does).
"""

from __future__ import annotations

import enum
import math
import operator as op
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .spec import Gate, OnNoData, Op

_COMPARE: dict[Op, Callable[[float, float], bool]] = {
    Op.GE: op.ge,
    Op.GT: op.gt,
    Op.LE: op.le,
    Op.LT: op.lt,
    Op.EQ: op.eq,
}
_NEGATED = {Op.GE: "<", Op.GT: "<=", Op.LE: ">", Op.LT: ">=", Op.EQ: "!="}


class Phase(enum.StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"


@dataclass(frozen=True)
class Measurement:
    """One gate judged once; `as_status()` is its entry in `status.gates`."""

    name: str
    metric: str
    op: str
    threshold: float | None  # the effective threshold (baseline + tolerance for relative gates)
    value: float | None
    baseline_value: float | None
    phase: Phase
    message: str
    source: str

    def as_status(self) -> dict[str, Any]:
        entry = asdict(self)
        entry["phase"] = self.phase.value
        entry["baselineValue"] = entry.pop("baseline_value")
        return {k: v for k, v in entry.items() if v is not None}


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def evaluate(
    gate: Gate,
    value: float | None,
    baseline_value: float | None = None,
    *,
    source: str = "",
    error: str | None = None,
) -> Measurement:
    """Judge ``value`` (and, for a relative gate, ``baseline_value``) against ``gate``."""

    def measured(phase: Phase, message: str, threshold: float | None = None) -> Measurement:
        return Measurement(
            gate.display_name, gate.metric, gate.op.value, threshold,
            None if _missing(value) else value,
            None if _missing(baseline_value) else baseline_value,
            phase, message, source,
        )  # fmt: skip

    where = f" ({source})" if source else ""
    if error is not None:
        return measured(Phase.ERROR, f"gate {gate.display_name}: metric source error: {error}")
    if gate.baseline is not None:
        if _missing(baseline_value):
            return _no_data(gate, measured, f"baseline {gate.baseline} has no {gate.metric}")
        assert baseline_value is not None
        threshold = baseline_value + gate.tolerance
    else:
        assert gate.threshold is not None
        threshold = gate.threshold
    if _missing(value):
        return _no_data(gate, measured, f"no value for {gate.metric}{where}", threshold)
    assert value is not None
    label = f"{gate.name!r} ({gate.metric})" if gate.name else gate.metric
    if _COMPARE[gate.op](value, threshold):
        message = f"gate {label} passed: {_fmt(value)} {gate.op.value} {_fmt(threshold)}"
        return measured(Phase.SUCCESSFUL, message + where, threshold)
    message = f"gate {label} failed: {_fmt(value)} {_NEGATED[gate.op]} {_fmt(threshold)}"
    if gate.baseline is not None:
        message += f" ({gate.baseline} {_fmt(baseline_value or 0.0)}{gate.tolerance:+g})"
    return measured(Phase.FAILED, message + where, threshold)


def _no_data(
    gate: Gate,
    measured: Callable[[Phase, str, float | None], Measurement],
    why: str,
    threshold: float | None = None,
) -> Measurement:
    policy = gate.on_no_data
    if policy is OnNoData.PASS:
        return measured(Phase.SUCCESSFUL, f"{why}; passed by onNoData=Pass", threshold)
    if policy is OnNoData.INCONCLUSIVE:
        return measured(Phase.INCONCLUSIVE, f"{why}; inconclusive by onNoData", threshold)
    return measured(Phase.FAILED, f"gate {gate.metric} failed: {why}", threshold)


@dataclass(frozen=True)
class Limits:
    """Argo's AnalysisRun limits: a verdict turns Failed only past them."""

    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = 4


def judge(series: Sequence[Measurement], limits: Limits, count: int) -> Phase | None:
    """The verdict of one gate's measurements so far; None while it is still running."""
    failed = sum(m.phase is Phase.FAILED for m in series)
    inconclusive = sum(m.phase is Phase.INCONCLUSIVE for m in series)
    if failed > limits.failure_limit:
        return Phase.FAILED
    if _trailing_errors(series) > limits.consecutive_error_limit:
        return Phase.ERROR
    if inconclusive > limits.inconclusive_limit:
        return Phase.INCONCLUSIVE
    taken = sum(m.phase is not Phase.ERROR for m in series)
    return Phase.SUCCESSFUL if taken >= count else None


def _trailing_errors(series: Sequence[Measurement]) -> int:
    errors = 0
    for measurement in reversed(series):
        if measurement.phase is not Phase.ERROR:
            break
        errors += 1
    return errors


def overall(verdicts: Sequence[Phase | None]) -> Phase | None:
    """All gates together: any Failed fails, then Error, then Inconclusive; else all must pass."""
    for phase in (Phase.FAILED, Phase.ERROR, Phase.INCONCLUSIVE):
        if phase in verdicts:
            return phase
    if all(v is Phase.SUCCESSFUL for v in verdicts):
        return Phase.SUCCESSFUL
    return None
