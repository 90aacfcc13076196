"""The reference profile of a model's training data: what live traffic is compared with.

Per feature, the interior cut points of its deciles on the training rows and the share of
training rows in each of the bins they make; the share of each predicted label. The model
server counts the rows it serves in the same bins (`model_server.profile`), and verification
turns both into a population stability index per feature (PSI). The profile is logged as the
run artifact `reference_profile.json` and, for the server, in the model's MLmodel metadata.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BINS = 10
METADATA_KEY = "mlrollout.reference_profile"


def bin_edges(column: Any, bins: int = BINS) -> list[float]:
    """Interior cut points of ``column``'s quantiles (repeated ones merged: a constant or
    mostly-constant feature gets fewer bins, never empty duplicates)."""
    cuts = np.quantile(np.asarray(column, dtype=float), np.linspace(0, 1, bins + 1)[1:-1])
    return [float(c) for c in np.unique(cuts)]


def bin_shares(column: Any, edges: list[float]) -> list[float]:
    """The share of ``column``'s values in each bin: ``x <= edges[0]``, ..., ``x > edges[-1]``."""
    index = np.searchsorted(np.asarray(edges), np.asarray(column, dtype=float), side="left")
    counts = np.bincount(index, minlength=len(edges) + 1)
    return [float(c) for c in counts / max(1, counts.sum())]


def build_reference(features: Any, predictions: Any) -> dict[str, Any]:
    """The profile of a DataFrame of training rows and the model's predictions on them."""
    profiled = []
    for name in features.columns:
        edges = bin_edges(features[name])
        profiled.append({"name": str(name), "edges": edges,
                         "shares": bin_shares(features[name], edges)})  # fmt: skip
    labels, counts = np.unique(np.asarray(predictions), return_counts=True)
    total = float(counts.sum())
    return {
        "version": 1,
        "rows": len(features),
        "features": profiled,
        "predictions": {
            str(label): float(c) / total for label, c in zip(labels, counts, strict=True)
        },
    }
