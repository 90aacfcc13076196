"""The status model reads what the API server stores and writes it back unchanged."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from promotion_operator.status import (
    ConditionType,
    MeasurementPhase,
    PromotionPhase,
    PromotionStatus,
    VerificationProgress,
    read_status,
)

# A status as the operator stored it before the model existed (copied from a real cluster run).
STORED: dict[str, Any] = {
    "phase": "Verifying",
    "phaseSince": "2026-11-27T10:00:12Z",
    "observedGeneration": 2,
    "message": "verifying version 8: 1/3",
    "candidate": {"version": "8", "runId": "3f2c9a", "startedAt": "2026-11-27T10:00:01Z"},
    "serving": {"version": "7"},
    "lastKnownGood": {"version": "7"},
    "gates": [
        {"name": "accuracy >= 0.9", "metric": "accuracy", "op": ">=", "threshold": 0.9,
         "value": 0.97, "phase": "Successful", "message": "gate accuracy passed: 0.97 >= 0.9",
         "source": "run 3f2c9a"},
        {"name": "accuracy >= production-0.01", "metric": "accuracy", "op": ">=",
         "threshold": 0.95, "value": 0.97, "baselineValue": 0.96, "phase": "Successful",
         "message": "…", "source": "run 3f2c9a vs production=v7"},
    ],
    "conditions": [
        {"type": "GatesPassed", "status": "True", "reason": "AllGatesPassed",
         "message": "2 passed", "lastTransitionTime": "2026-11-27T10:00:02Z"},
        {"type": "Verified", "status": "Unknown", "reason": "NotStarted", "message": "",
         "lastTransitionTime": "2026-11-27T10:00:01Z"},
    ],
    "history": [
        {"version": "7", "outcome": "Promoted", "reason": "all gates passed",
         "startedAt": "2026-11-26T09:00:00Z", "finishedAt": "2026-11-26T09:00:30Z"},
    ],
    "rollout": {"startedAt": "2026-11-27T10:00:02Z", "deadline": "2026-11-27T10:05:02Z"},
    "verification": {"startedAt": "2026-11-27T10:00:12Z", "lastMeasuredAt": "2026-11-27T10:00:22Z",
                     "measurements": {"error_rate <= 0.01": [{"phase": "Successful"}]},
                     "samples": [{"at": "2026-11-27T10:00:22Z",
                                  "values": {"error_rate": 0.0, "latency_p95_ms": None}}]},
    "requests": [
        {"id": "5d1e", "action": "approve", "requestedBy": "system:serviceaccount:ml:ci",
         "requestedAt": "2026-11-27T10:00:03Z", "handledAt": "2026-11-27T10:00:04Z",
         "accepted": True, "message": "version 8 approved (beforeRollout)"},
    ],
}  # fmt: skip


def test_a_stored_status_reads_and_writes_back_unchanged() -> None:
    status = PromotionStatus.model_validate(copy.deepcopy(STORED))
    assert status.to_json() == STORED
    assert status.current_phase is PromotionPhase.VERIFYING
    assert status.candidate_version == "8"
    assert status.serving_version == status.last_known_good_version == "7"
    assert status.gates[1].baseline_value == 0.96
    assert status.gates[1].phase is MeasurementPhase.SUCCESSFUL
    assert status.history[0].finished_at == datetime(2026, 11, 26, 9, 0, 30, tzinfo=UTC)
    verified = status.condition(ConditionType.VERIFIED)
    assert verified is not None
    assert verified.status == "Unknown"


def test_timestamps_are_written_in_whole_utc_seconds() -> None:
    progress = VerificationProgress(started_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC))
    assert progress.to_json() == {
        "startedAt": "2026-01-02T03:04:05Z",
        "measurements": {},
        "samples": [],
    }


def test_an_object_without_status_reads_as_pending_with_nothing_set() -> None:
    status = read_status({"metadata": {"name": "churn"}, "spec": {}})
    assert status.current_phase is PromotionPhase.PENDING
    assert not status.concluded
    assert status.candidate_version is None
    assert status.to_json() == {"gates": [], "conditions": [], "history": [], "requests": []}


def test_concluded_phases_are_the_verdicts() -> None:
    verdicts = {p for p in PromotionPhase if PromotionStatus(phase=p).concluded}
    assert verdicts == {PromotionPhase.REJECTED, PromotionPhase.PROMOTED,
                        PromotionPhase.ROLLED_BACK, PromotionPhase.FAILED}  # fmt: skip
