"""What a run logs about its model: quality, single-row latency, size."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def quality(model: Any, features: Any, target: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    predicted = model.predict(features)
    scores = model.predict_proba(features)[:, 1]
    return {
        "accuracy": float(accuracy_score(target, predicted)),
        "f1": float(f1_score(target, predicted)),
        "roc_auc": float(roc_auc_score(target, scores)),
    }


def single_row_latency_ms(model: Any, features: Any, calls: int, warmup: int = 10) -> list[float]:
    """Wall time of ``calls`` real one-row predictions (after ``warmup``), in milliseconds."""
    rows = [features.iloc[[i % len(features)]] for i in range(calls + warmup)]
    for row in rows[:warmup]:
        model.predict(row)
    timings: list[float] = []
    for row in rows[warmup:]:
        start = time.perf_counter_ns()
        model.predict(row)
        timings.append((time.perf_counter_ns() - start) / 1e6)
    return timings


def latency_summary(timings_ms: list[float]) -> dict[str, float]:
    values = np.asarray(timings_ms)
    return {
        "latency_p50_ms": float(np.percentile(values, 50)),
        "latency_p95_ms": float(np.percentile(values, 95)),
    }
