"""Live traffic for the e2e tier: rows drawn from the demo models' training table."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.datasets import load_breast_cancer

FEATURES = load_breast_cancer(as_frame=True).data
SHIFTED = "mean radius"


def traffic(shift: float = 1.0, seed: int = 0) -> Callable[[], list[list[float]]]:
    """Batches of 20 rows drawn from the training table, ``SHIFTED`` multiplied by ``shift``."""
    generator = np.random.default_rng(seed)
    column = list(FEATURES.columns).index(SHIFTED)

    def draw() -> list[list[float]]:
        rows = FEATURES.to_numpy()[generator.integers(0, len(FEATURES), 20)].copy()
        rows[:, column] *= shift
        drawn: list[list[float]] = rows.tolist()
        return drawn

    return draw
