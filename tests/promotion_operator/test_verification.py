"""Live verification on its own: Argo's limits, windows between samples, rounds and errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from promotion_operator.ports import LiveSample, PodCounters
from promotion_operator.spec import Verification
from promotion_operator.status import MeasurementPhase, VerificationProgress
from promotion_operator.verification import (
    Limits,
    LiveWindow,
    Round,
    due,
    judge,
    judge_round,
    measure,
)

S, F = MeasurementPhase.SUCCESSFUL, MeasurementPhase.FAILED
INC, E = MeasurementPhase.INCONCLUSIVE, MeasurementPhase.ERROR
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phases", "limits", "count", "verdict"),
    [
        ((S, S), Limits(), 3, None),
        ((S, S, S), Limits(), 3, S),
        ((S, F), Limits(), 3, F),
        ((S, F), Limits(failure_limit=1), 3, None),
        ((S, F, S), Limits(failure_limit=1), 3, S),
        ((S, F, F), Limits(failure_limit=1), 3, F),
        ((S, INC), Limits(), 3, INC),
        ((S, INC, S, S), Limits(inconclusive_limit=1), 3, S),
        ((S, E, E), Limits(consecutive_error_limit=2), 3, None),
        ((S, E, E, E), Limits(consecutive_error_limit=2), 3, E),
        ((E, E, S, E, E, S, S), Limits(consecutive_error_limit=2), 3, S),
    ],
)
def test_judge_applies_argo_limits(
    phases: tuple[MeasurementPhase, ...], limits: Limits, count: int,
    verdict: MeasurementPhase | None,
) -> None:  # fmt: skip
    assert judge(phases, limits, count) is verdict


def verification(**fields: object) -> Verification:
    gates = [
        {"metric": "latency_p95_ms", "op": "<=", "threshold": 50},
        {"metric": "error_rate", "op": "<=", "threshold": 0.01},
    ]
    return Verification.model_validate({"durationSeconds": 20, "intervalSeconds": 10,
                                        "gates": gates, **fields})  # fmt: skip


def test_a_round_measures_every_gate_and_records_its_phase() -> None:
    progress = VerificationProgress(started_at=START)
    first = judge_round(verification(), progress, {"latency_p95_ms": 4.0, "error_rate": 0.0}, None)
    assert [m.phase for m in first.measurements] == [S, S]
    assert {m.source for m in first.measurements} == {"live"}
    assert (first.verdict, first.taken) == (None, 1)  # count is 20 s / 10 s = 2
    second = judge_round(verification(), progress, {"latency_p95_ms": 4.0, "error_rate": 0.0}, None)
    assert (second.verdict, second.taken) == (S, 2)
    assert [r.phase for r in progress.measurements["latency_p95_ms <= 50"]] == [S, S]


def test_a_failed_gate_is_the_culprit_of_the_verdict() -> None:
    progress = VerificationProgress(started_at=START)
    values: dict[str, float | None] = {"latency_p95_ms": 4.0, "error_rate": 0.5}
    failed = judge_round(verification(), progress, values, None)
    assert failed.verdict is F
    assert failed.culprit.metric == "error_rate"
    assert "failed: 0.5 > 0.01" in failed.culprit.message


def test_a_window_without_traffic_follows_on_no_data() -> None:
    progress = VerificationProgress(started_at=START)
    judged = judge_round(verification(), progress, {"latency_p95_ms": None}, None)
    assert judged.verdict is F
    assert "no value for latency_p95_ms (live)" in judged.culprit.message


def test_due_counts_from_the_last_measurement_or_the_start() -> None:
    progress = VerificationProgress(started_at=START)
    assert not due(progress, START + timedelta(seconds=9), 10)
    assert due(progress, START + timedelta(seconds=10), 10)
    progress.last_measured_at = START + timedelta(seconds=10)
    assert not due(progress, START + timedelta(seconds=19), 10)


class Pods:
    """Counters that grow by 100 requests at 2 ms per sample, or an unreachable endpoint."""

    def __init__(self) -> None:
        self.requests = 0.0
        self.down = False

    async def sample(
        self, name: str, namespace: str, version: str, *, profiles: bool = False
    ) -> LiveSample:
        if self.down:
            raise RuntimeError("connection refused")
        self.requests += 100
        buckets = {0.001: 0.0, 0.002: self.requests, float("inf"): self.requests}
        return LiveSample({"pod-0": PodCounters(self.requests, 0.0, buckets)})

    def ensure_smoke_load(
        self, name: str, namespace: str, version: str, model_name: str, rps: float
    ) -> None:
        raise AssertionError("verification never starts load itself")

    def stop_smoke_load(self, name: str, namespace: str) -> None:
        raise AssertionError("verification never stops load itself")


def test_the_first_sample_opens_the_window_and_errors_are_measurements() -> None:
    pods, window = Pods(), LiveWindow()
    progress = VerificationProgress(started_at=START)

    def once() -> Round | None:
        return asyncio.run(measure(pods, "churn", "ml", "2", verification=verification(),
                                   progress=progress, window=window))  # fmt: skip

    def measured() -> Round:
        judged = once()
        assert judged is not None
        return judged

    assert once() is None  # opens the window: nothing measured yet
    assert progress.measurements == {}
    assert [m.phase for m in measured().measurements] == [S, S]
    pods.down = True
    errored = measured()
    assert [m.phase for m in errored.measurements] == [E, E]
    assert "connection refused" in errored.measurements[0].message
    window.last = None  # an operator restart: memory gone, the next sample opens a new window
    pods.down = False
    assert once() is None
