"""A bounded live profile of what the server is asked and what it answers, in the bins of the
model's reference profile (logged at training, read from the MLmodel metadata).

Counts only: one counter per (feature, bin) and per predicted label, so memory does not grow
with traffic and no input row is kept. Counted since the model became ready, warm-up excluded
and the operator's smoke load excluded (it sends the model's input example over and over, not
real traffic). Verification sums the counts of the candidate's pods and compares them with the
reference (population stability index per feature).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .inputs import FloatArray

METADATA_KEY = "mlrollout.reference_profile"
# Requests with this header (the operator's smoke load) are served but not profiled.
SMOKE_HEADER = "x-mlrollout-smoke"


class LiveProfile:
    def __init__(self, reference: dict[str, Any], columns: list[str]) -> None:
        by_name = {f["name"]: f for f in reference["features"]}
        missing = [c for c in columns if c not in by_name]
        if missing:
            raise ValueError(f"reference profile lacks the features {missing[:5]}")
        self.reference = reference
        self._names = columns
        # Bins per column: one more than its cut points.
        self._widths = [len(by_name[c]["edges"]) + 1 for c in columns]
        widest = max(self._widths, default=1) - 1
        # One row of cut points per input column, padded with +inf (never exceeded).
        self._edges = np.full((len(columns), max(1, widest)), np.inf)
        for i, name in enumerate(columns):
            edges = by_name[name]["edges"]
            self._edges[i, : len(edges)] = edges
        self._bins = self._edges.shape[1] + 1
        self._counts = np.zeros((len(columns), self._bins), dtype=np.int64)
        self._labels: dict[str, int] = {}
        self._rows = 0
        self._lock = threading.Lock()

    def update(self, matrix: FloatArray, predictions: Any | None) -> None:
        # bin = how many cut points are below the value: `searchsorted(side="left")`, as at
        # training, for every column at once.
        bins = (matrix[:, :, None] > self._edges[None, :, :]).sum(axis=2)
        flat = (np.arange(len(self._names))[None, :] * self._bins + bins).ravel()
        counted = np.bincount(flat, minlength=self._counts.size).reshape(self._counts.shape)
        labels: dict[str, int] = {}
        if predictions is not None:
            values, counts = np.unique(np.asarray(predictions), return_counts=True)
            labels = {label_of(v): int(c) for v, c in zip(values, counts, strict=True)}
        with self._lock:
            self._counts += counted
            self._rows += matrix.shape[0]
            for label, count in labels.items():
                self._labels[label] = self._labels.get(label, 0) + count

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            features = {
                name: self._counts[i, :width].tolist()
                for i, (name, width) in enumerate(zip(self._names, self._widths, strict=True))
            }
            return {"rows": self._rows, "features": features, "predictions": dict(self._labels)}


def label_of(value: Any) -> str:
    """Labels as the training profile wrote them (`str` of the value; 1.0 → "1")."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value.item() if isinstance(value, np.generic) else value)
