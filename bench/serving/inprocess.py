"""The physical limit: the same model object called in this process, no HTTP, no JSON.

Two rows per batch size: the model's own `predict_proba` as trained, and our fast path (what the
server runs). Rows per second at each batch size are the ceiling a server can approach.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from model_server import booster, forest

from .models import BenchModel

BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64)


def _rows_per_second(call: Callable[[], Any], rows: int, budget_s: float) -> float:
    call()
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < budget_s or calls < 3:
        call()
        calls += 1
    return rows * calls / elapsed


def measure(model: BenchModel, budget_s: float) -> dict[str, dict[int, float]]:
    """{"model (as trained)": {batch: rows/s}, "fast path": {...}}."""
    if forest.supports(model.model):
        fast: Callable[[Any], Any] = forest.ForestProba(model.model)
    elif booster.supports(model.model):
        fast = booster.BoosterProba(model.model)
    else:
        raise SystemExit(f"no fast path for {model.name}")
    out: dict[str, dict[int, float]] = {"model (as trained)": {}, "fast path": {}}
    for size in BATCH_SIZES:
        matrix = np.ascontiguousarray(model.rows[:size], dtype=np.float64)
        frame = pd.DataFrame(matrix, columns=model.columns)
        own = model.model.predict_proba
        out["model (as trained)"][size] = _rows_per_second(lambda: own(frame), size, budget_s)  # noqa: B023
        out["fast path"][size] = _rows_per_second(lambda: fast(matrix), size, budget_s)  # noqa: B023
    return out


def at_batch(rates: dict[int, float], mean_rows: float) -> float:
    """The in-process rate at the batch size nearest ``mean_rows`` (log scale)."""
    nearest = min(rates, key=lambda size: abs(np.log(size) - np.log(max(mean_rows, 1.0))))
    return rates[nearest]
