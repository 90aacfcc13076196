"""The three demo algorithms, each with quick (seconds) and full hyperparameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FLAVOR_SKLEARN = "sklearn"
FLAVOR_XGBOOST = "xgboost"


@dataclass(frozen=True)
class Algorithm:
    name: str
    flavor: str
    quick: dict[str, Any]
    full: dict[str, Any]
    build: Callable[[dict[str, Any], int], Any]


def _random_forest(params: dict[str, Any], seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(**params, random_state=seed)


def _xgboost(params: dict[str, Any], seed: int) -> Any:
    from xgboost import XGBClassifier

    return XGBClassifier(**params, random_state=seed)


def _logistic_regression(params: dict[str, Any], seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Scaling first: plain LogisticRegression does not converge on unscaled features.
    return make_pipeline(StandardScaler(), LogisticRegression(**params, random_state=seed))


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm(
            "random_forest", FLAVOR_SKLEARN,
            quick={"n_estimators": 50, "max_depth": 8, "n_jobs": 1},
            full={"n_estimators": 300, "max_depth": None, "n_jobs": -1},
            build=_random_forest,
        ),
        Algorithm(
            "xgboost", FLAVOR_XGBOOST,
            quick={"n_estimators": 50, "max_depth": 3, "learning_rate": 0.2, "n_jobs": 1},
            full={"n_estimators": 400, "max_depth": 5, "learning_rate": 0.05, "n_jobs": -1},
            build=_xgboost,
        ),
        Algorithm(
            "logistic_regression", FLAVOR_SKLEARN,
            quick={"C": 1.0, "max_iter": 500},
            full={"C": 0.5, "max_iter": 2000},
            build=_logistic_regression,
        ),
    )
}  # fmt: skip


def pick(names: list[str] | None) -> list[Algorithm]:
    """The named algorithms, in the order given; all of them when ``names`` is empty."""
    if not names:
        return list(ALGORITHMS.values())
    unknown = [n for n in names if n not in ALGORITHMS]
    if unknown:
        raise ValueError(f"unknown algorithm {unknown[0]!r}; choose from {', '.join(ALGORITHMS)}")
    return [ALGORITHMS[n] for n in names]
