"""ModelPromotion objects as the API server returns them, their statuses built with the
operator's own status models (so they hold only what the operator can write)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from promotion_operator.status import (
    ApprovalStatus,
    Candidate,
    ControlRecord,
    GateStatus,
    HistoryEntry,
    MeasurementPhase,
    MeasurementRecord,
    PromotionPhase,
    PromotionStatus,
    StrategyStatus,
    VerificationProgress,
    VerificationSample,
    VersionRef,
)

NOW = datetime(2026, 11, 27, 10, 10, 0, tzinfo=UTC)
OK = MeasurementPhase.SUCCESSFUL


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def spec(**rollout: Any) -> dict[str, Any]:
    return {
        "model": {"name": "churn-model", "alias": "challenger"},
        "mlflow": {"trackingUri": "http://mlflow.mlflow:5000"},
        "gates": [{"metric": "accuracy", "op": ">=", "threshold": 0.9}],
        "serving": {"image": "localhost/mlrollout-model-server:test"},
        "rollout": {
            "strategy": "canary",
            "verification": {
                "durationSeconds": 60, "intervalSeconds": 10,
                "gates": [
                    {"metric": "error_rate", "op": "<=", "threshold": 0.01},
                    {"metric": "latency_p95_ms", "op": "<=", "threshold": 50},
                ],
            },
            **rollout,
        },
    }  # fmt: skip


def promotion(
    status: PromotionStatus,
    name: str = "churn",
    namespace: str = "ml",
    *,
    paused: bool = False,
    resource_version: str = "100",
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = spec()
    if paused:
        body["paused"] = True
    metadata: dict[str, Any] = {
        "name": name, "namespace": namespace, "resourceVersion": resource_version,
        "creationTimestamp": "2026-11-25T10:10:00Z", "generation": 3,
    }  # fmt: skip
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "mlrollout.dev/v1alpha1",
        "kind": "ModelPromotion",
        "metadata": metadata,
        "spec": body,
        "status": status.to_json(),
    }


def offline_gate(value: float, phase: MeasurementPhase = OK) -> GateStatus:
    verdict = "passed" if phase is OK else "failed"
    return GateStatus(
        name="accuracy >= 0.9", metric="accuracy", op=">=", threshold=0.9, value=value,
        phase=phase, message=f"gate accuracy {verdict}: {value} vs 0.9 (run 3f2c9a)",
        source="run 3f2c9a",
    )  # fmt: skip


def history() -> list[HistoryEntry]:
    """Newest first: 7 promoted, 6 rolled back by an abort, 5 promoted."""
    return [
        HistoryEntry(version="7", outcome=PromotionPhase.PROMOTED, reason="all gates passed",
                     started_at=ago(days=1, minutes=2), finished_at=ago(days=1)),
        HistoryEntry(version="6", outcome=PromotionPhase.ROLLED_BACK, reason="aborted: slow",
                     finished_at=ago(days=2), action="abort", requested_by="bob"),
        HistoryEntry(version="5", outcome=PromotionPhase.PROMOTED, reason="all gates passed",
                     finished_at=ago(days=3)),
    ]  # fmt: skip


def verifying() -> PromotionStatus:
    """Version 8 in its canary's second step, two verification rounds in."""
    live = GateStatus(
        name="error_rate <= 0.01", metric="error_rate", op="<=", threshold=0.01, value=0.002,
        phase=OK, message="gate error_rate passed", source="live",
    )  # fmt: skip
    rounds = [MeasurementRecord(phase=OK), MeasurementRecord(phase=OK)]
    return PromotionStatus(
        phase=PromotionPhase.VERIFYING, phase_since=ago(minutes=1),
        message="verifying version 8: 2/6",
        candidate=Candidate(version="8", model="churn-model", run_id="3f2c9a"),
        serving=VersionRef(version="7"), last_known_good=VersionRef(version="7"),
        gates=[offline_gate(0.97), live],
        history=history(),
        strategy=StrategyStatus(name="canary", step=2, steps=3, weight=50,
                                summary="step 2/3: 1 of 2 pods serve version 8"),
        verification=VerificationProgress(
            started_at=ago(seconds=40), last_measured_at=ago(seconds=5),
            measurements={"error_rate <= 0.01": rounds, "latency_p95_ms <= 50": rounds},
            samples=[
                VerificationSample(at=ago(seconds=15),
                                   values={"error_rate": 0.004, "latency_p95_ms": 31.5}),
                VerificationSample(at=ago(seconds=5),
                                   values={"error_rate": 0.002, "latency_p95_ms": None}),
            ],
        ),
    )  # fmt: skip


def awaiting_approval() -> PromotionStatus:
    status = verifying()
    status.phase = PromotionPhase.AWAITING_APPROVAL
    status.message = "version 8 verified; waiting for approval"
    status.approval = ApprovalStatus(
        stage="beforePromotion", requested_at=ago(minutes=2), deadline=NOW + timedelta(minutes=8)
    )
    return status


def concluded(phase: PromotionPhase, candidate: str = "8", serving: str = "8") -> PromotionStatus:
    status = PromotionStatus(
        phase=phase, candidate=Candidate(version=candidate),
        serving=VersionRef(version=serving), last_known_good=VersionRef(version=serving),
        gates=[offline_gate(0.97 if phase is PromotionPhase.PROMOTED else 0.55,
                            OK if phase is PromotionPhase.PROMOTED else MeasurementPhase.FAILED)],
        history=history(),
    )  # fmt: skip
    if phase is PromotionPhase.PROMOTED:
        entry = HistoryEntry(version=candidate, outcome=phase, finished_at=ago(minutes=1))
        status.history.insert(0, entry)
    return status


def answered(
    request_id: str, action: str, *, accepted: bool = True, message: str = ""
) -> ControlRecord:
    return ControlRecord(
        id=request_id, action=action, requested_by="alice", handled_at=NOW,
        accepted=accepted, message=message,
    )  # fmt: skip
