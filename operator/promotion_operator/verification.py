"""Live verification: sample the candidate's pods, turn two samples into a window of values,
measure the online gates on that window, and judge each gate's series with Argo's limits.

Each round is one `intervalSeconds` apart. The first sample only opens a window (so does the
first after an operator restart: the previous sample lives in memory, not in the status), and a
failure to read the pods is an Error measurement, never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .agreement import agreement_values
from .drift import METRICS as DRIFT_METRICS
from .drift import drift_values
from .gates import evaluate, overall
from .live_values import MEMORY_WORKING_SET, window_values
from .ports import LivePort, LiveSample
from .spec import Verification
from .status import GateStatus, MeasurementPhase, MeasurementRecord, VerificationProgress


@dataclass(frozen=True)
class Limits:
    """Argo's AnalysisRun limits: a verdict turns Failed only past them."""

    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = 4

    @classmethod
    def of(cls, verification: Verification) -> Limits:
        return cls(
            verification.failure_limit,
            verification.inconclusive_limit,
            verification.consecutive_error_limit,
        )


def judge(
    phases: Sequence[MeasurementPhase], limits: Limits, count: int
) -> MeasurementPhase | None:
    """The verdict of one gate's measurements so far; None while it is still running."""
    failed = phases.count(MeasurementPhase.FAILED)
    inconclusive = phases.count(MeasurementPhase.INCONCLUSIVE)
    if failed > limits.failure_limit:
        return MeasurementPhase.FAILED
    if _trailing_errors(phases) > limits.consecutive_error_limit:
        return MeasurementPhase.ERROR
    if inconclusive > limits.inconclusive_limit:
        return MeasurementPhase.INCONCLUSIVE
    taken = sum(phase is not MeasurementPhase.ERROR for phase in phases)
    return MeasurementPhase.SUCCESSFUL if taken >= count else None


def _trailing_errors(phases: Sequence[MeasurementPhase]) -> int:
    errors = 0
    for phase in reversed(phases):
        if phase is not MeasurementPhase.ERROR:
            break
        errors += 1
    return errors


@dataclass
class LiveWindow:
    """The last sample of the candidate's counters, and the champion's live label shares read
    before the rollout replaced its pods (memory only; lost on restart: then no data)."""

    last: LiveSample | None = None
    champion_predictions: dict[str, float] | None = None
    champion_memory_mb: float | None = None  # the baseline of a live memory gate


@dataclass(frozen=True)
class Round:
    """One measurement of every online gate, and the verdict of all of them so far."""

    measurements: list[GateStatus]  # the latest of each gate, in spec order
    verdict: MeasurementPhase | None  # None while verification is still running
    taken: int  # measurements per gate so far (the fewest of any gate)
    values: dict[str, float | None] = field(default_factory=dict)  # every live value measured

    @property
    def culprit(self) -> GateStatus:
        """The measurement to blame for a verdict other than Successful."""
        failing = (m for m in self.measurements if m.phase is not MeasurementPhase.SUCCESSFUL)
        return next(failing, self.measurements[0])


def due(progress: VerificationProgress, now: datetime, interval_seconds: int) -> bool:
    last = progress.last_measured_at or progress.started_at
    return (now - last).total_seconds() >= interval_seconds


async def measure(
    live: LivePort,
    name: str,
    namespace: str,
    version: str,
    *,
    verification: Verification,
    progress: VerificationProgress,
    window: LiveWindow,
    shadow: bool = False,
) -> Round | None:
    """Sample the pods serving ``version`` and judge a round on the window since the last
    sample; None when this sample only opens the window. A ``shadow``'s pods also give the
    agreement with the champion on the rows it mirrored to them."""
    error: str | None = None
    try:
        profiles = any(g.metric in DRIFT_METRICS for g in verification.gates)
        sample: LiveSample | None = await live.sample(name, namespace, version, profiles=profiles)
    except Exception as exc:  # a metric-source failure is an Error measurement
        sample, error = None, f"cannot read the serving pods' metrics: {exc}"
    previous = window.last
    if sample is not None:
        window.last = sample
        if previous is None:
            return None
    values: dict[str, float | None] = {}
    details: dict[str, str] = {}
    if previous and sample:
        drift, details = drift_values(sample, window.champion_predictions)
        values = {**window_values(previous, sample), **drift}
        if shadow:
            mirrored, mirror_details = agreement_values(sample)
            values, details = {**values, **mirrored}, {**details, **mirror_details}
    baselines = {MEMORY_WORKING_SET: window.champion_memory_mb}
    return judge_round(verification, progress, values, error, details, baselines)


def judge_round(
    verification: Verification,
    progress: VerificationProgress,
    values: dict[str, float | None],
    error: str | None,
    details: dict[str, str] | None = None,
    baselines: dict[str, float | None] | None = None,
) -> Round:
    """Measure every online gate on ``values`` once, add it to ``progress``, judge the series;
    ``details`` (per metric) go into the measurement's message, e.g. which feature drifted;
    ``baselines`` (per metric) are the champion's live values, for gates with a baseline."""
    limits = Limits.of(verification)
    latest: list[GateStatus] = []
    verdicts: list[MeasurementPhase | None] = []
    for gate in verification.gates:
        baseline = (baselines or {}).get(gate.metric) if gate.baseline is not None else None
        measurement = evaluate(gate, values.get(gate.metric), baseline, source="live", error=error)
        detail = (details or {}).get(gate.metric)
        if detail and error is None:
            measurement = measurement.model_copy(
                update={"message": f"{measurement.message}; {detail}"}
            )
        series = progress.measurements.setdefault(gate.display_name, [])
        series.append(MeasurementRecord(phase=measurement.phase))
        latest.append(measurement)
        verdicts.append(judge([r.phase for r in series], limits, verification.count))
    taken = min((len(s) for s in progress.measurements.values()), default=0)
    return Round(latest, overall(verdicts), taken, dict(values))
