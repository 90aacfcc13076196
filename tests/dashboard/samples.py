"""ModelPromotion objects as the API returns them, with statuses built through the operator's
own models (so they have exactly the fields the operator writes): one promoted, one rejected
at an offline gate, one verifying a canary."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from promotion_operator.status import (
    ApprovalStatus,
    Candidate,
    ControlRecord,
    GateStatus,
    HistoryEntry,
    MeasurementPhase,
    PromotionPhase,
    PromotionStatus,
    StrategyStatus,
    VerificationProgress,
    VerificationSample,
    VersionRef,
)

TRACKING_URI = "http://mlflow.mlops.svc.cluster.local:5000"
NOW = datetime.now(UTC).replace(microsecond=0)
OK, FAILED = MeasurementPhase.SUCCESSFUL, MeasurementPhase.FAILED


def spec(model: str, version: str, *, strategy: str = "replace") -> dict[str, Any]:
    return {
        "model": {"name": model, "version": version},
        "mlflow": {"trackingUri": TRACKING_URI},
        "gates": [
            {"metric": "accuracy", "op": ">=", "threshold": 0.9},
            {"metric": "latency_p95_ms", "op": "<=", "threshold": 100},
        ],
        "serving": {"image": "ghcr.io/example/model-server:1.4", "replicas": 2},
        "rollout": {
            "strategy": strategy,
            "canary": {"steps": [20, 50, 100]},
            "verification": {
                "durationSeconds": 120,
                "intervalSeconds": 10,
                "gates": [
                    {"metric": "error_rate", "op": "<=", "threshold": 0.05},
                    {"metric": "latency_p95_ms", "op": "<=", "threshold": 250},
                ],
            },
        },
        "promotion": {"alias": "production"},
    }


def obj(namespace: str, name: str, spec_: dict[str, Any], status: PromotionStatus | None,
        *, generation: int = 1) -> dict[str, Any]:  # fmt: skip
    return {
        "apiVersion": "mlrollout.dev/v1alpha1",
        "kind": "ModelPromotion",
        "metadata": {
            "namespace": namespace,
            "name": name,
            "generation": generation,
            "resourceVersion": "1",
            "uid": f"uid-{namespace}-{name}",
        },
        "spec": copy.deepcopy(spec_),
        **({"status": status.to_json()} if status is not None else {}),
    }


def samples(rounds: int, *, p95: float = 32.0, errors: float = 0.0) -> list[VerificationSample]:
    """``rounds`` verification samples, 10 s apart, ending now: a latency p95 that wanders a
    little, and an error rate that blips once."""
    start = NOW - timedelta(seconds=10 * (rounds - 1))
    return [
        VerificationSample(
            at=start + timedelta(seconds=10 * i),
            values={
                "latency_p95_ms": round(p95 + 6 * ((i * 7) % 5) - 9 + (14 if i == 4 else 0), 1),
                "error_rate": errors + (0.012 if i == 4 else 0.0),
                "requests": 150.0 + i,
            },
        )
        for i in range(rounds)
    ]


def offline_gates(accuracy: float, run: str) -> list[GateStatus]:
    passed = accuracy >= 0.9
    return [
        GateStatus(
            name="accuracy >= 0.9", metric="accuracy", op=">=", threshold=0.9, value=accuracy,
            phase=OK if passed else FAILED, source=f"run {run[:8]}",
            message="" if passed else f"gate accuracy failed: {accuracy} < 0.9",
        ),
        GateStatus(
            name="latency_p95_ms <= 100", metric="latency_p95_ms", op="<=", threshold=100,
            value=41.7, phase=OK, source=f"run {run[:8]}",
        ),
    ]  # fmt: skip


def live_gates(error_rate: float, p95: float) -> list[GateStatus]:
    return [
        GateStatus(name="error_rate <= 0.05", metric="error_rate", op="<=", threshold=0.05,
                   value=error_rate, phase=OK, source="live"),
        GateStatus(name="latency_p95_ms <= 250", metric="latency_p95_ms", op="<=",
                   threshold=250, value=p95, phase=OK, source="live"),
    ]  # fmt: skip


def verifying(
    namespace: str = "risk", name: str = "fraud-scorer", model: str = "fraud-scorer"
) -> dict[str, Any]:
    """Version 7 of ``model`` in verification, a canary at step 2 of 3; version 6 serves."""
    run = "3f2c9a1be04d4b6f9e0c7d21a8b5e913"
    status = PromotionStatus(
        phase=PromotionPhase.VERIFYING, phase_since=NOW - timedelta(seconds=40),
        message="verifying version 7: 5/12 (canary 50%: 1 of 2 pods)",
        candidate=Candidate(version="7", model=model, run_id=run,
                            started_at=NOW - timedelta(minutes=2)),
        serving=VersionRef(version="6"), last_known_good=VersionRef(version="6"),
        gates=[*offline_gates(0.962, run), *live_gates(0.0, 38.2)],
        verification=VerificationProgress(started_at=NOW - timedelta(seconds=50),
                                          last_measured_at=NOW, samples=samples(5)),
        strategy=StrategyStatus(name="canary", step=2, steps=3, weight=50,
                                summary="canary 50%: 1 of 2 pods"),
        history=[
            HistoryEntry(version="6", outcome=PromotionPhase.PROMOTED, reason="all gates passed",
                         started_at=NOW - timedelta(days=2, minutes=9),
                         finished_at=NOW - timedelta(days=2)),
        ],
    )  # fmt: skip
    return obj(namespace, name, spec(model, "7", strategy="canary"), status)


def promoted(namespace: str = "risk", name: str = "fraud-scorer") -> dict[str, Any]:
    """Version 7 promoted after 12 rounds of verification; 6 before it was undone once."""
    promotion = verifying(namespace, name)
    status = PromotionStatus.model_validate(promotion["status"])
    status.phase, status.phase_since = PromotionPhase.PROMOTED, NOW
    status.message = "version 7 promoted: alias production → 7"
    status.serving = status.last_known_good = VersionRef(version="7")
    status.strategy = StrategyStatus(name="canary", stage="switch", step=3, steps=3, weight=100,
                                     summary="canary 100%: 2 of 2 pods")  # fmt: skip
    status.verification = VerificationProgress(
        started_at=NOW - timedelta(seconds=120), last_measured_at=NOW, passed=True,
        samples=samples(12),
    )  # fmt: skip
    status.history = [
        HistoryEntry(version="7", outcome=PromotionPhase.PROMOTED, reason="all gates passed",
                     started_at=NOW - timedelta(minutes=3), finished_at=NOW),
        HistoryEntry(version="6", outcome=PromotionPhase.ROLLED_BACK,
                     reason="undo: back to version 5", action="undo", requested_by="alice",
                     started_at=NOW - timedelta(hours=5), finished_at=NOW - timedelta(hours=5)),
        *status.history,
    ]  # fmt: skip
    status.requests = [
        ControlRecord(id="a1", action="undo", requested_by="alice", accepted=True,
                      handled_at=NOW - timedelta(hours=5), message="serving version 5 again"),
    ]  # fmt: skip
    promotion["status"] = status.to_json()
    return promotion


def rejected(namespace: str = "growth", name: str = "churn-model") -> dict[str, Any]:
    """Version 4 failed its offline accuracy gate; version 3 still serves."""
    run = "9b81d0c2aa4e4f0f8c3d5e6f7a8b9c0d"
    status = PromotionStatus(
        phase=PromotionPhase.REJECTED, phase_since=NOW - timedelta(minutes=1),
        message="version 4 rejected: gate accuracy failed: 0.871 < 0.9",
        candidate=Candidate(version="4", model="churn-model", run_id=run,
                            started_at=NOW - timedelta(minutes=1)),
        serving=VersionRef(version="3"), last_known_good=VersionRef(version="3"),
        gates=offline_gates(0.871, run),
        history=[
            HistoryEntry(version="4", outcome=PromotionPhase.REJECTED,
                         reason="gate accuracy failed: 0.871 < 0.9",
                         started_at=NOW - timedelta(minutes=1), finished_at=NOW),
            HistoryEntry(version="3", outcome=PromotionPhase.PROMOTED, reason="all gates passed",
                         started_at=NOW - timedelta(days=6, minutes=4),
                         finished_at=NOW - timedelta(days=6)),
        ],
    )  # fmt: skip
    return obj(namespace, name, spec("churn-model", "4"), status)


def awaiting_approval(namespace: str = "growth", name: str = "recsys-ranker") -> dict[str, Any]:
    """Version 12 verified live, waiting for a person before the alias moves."""
    run = "c0ffee00aa4e4f0f8c3d5e6f7a8b9c0d"
    status = PromotionStatus(
        phase=PromotionPhase.AWAITING_APPROVAL, phase_since=NOW - timedelta(minutes=3),
        message="version 12 verified: waiting for approval before promotion",
        candidate=Candidate(version="12", model="recsys-ranker", run_id=run),
        serving=VersionRef(version="11"), last_known_good=VersionRef(version="11"),
        gates=[*offline_gates(0.931, run), *live_gates(0.004, 61.0)],
        verification=VerificationProgress(started_at=NOW - timedelta(minutes=5), passed=True,
                                          samples=samples(12, p95=55.0, errors=0.002)),
        approval=ApprovalStatus(stage="beforePromotion", requested_at=NOW - timedelta(minutes=3),
                                deadline=NOW + timedelta(hours=4)),
    )  # fmt: skip
    return obj(namespace, name, spec("recsys-ranker", "12"), status)
