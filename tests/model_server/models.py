"""Small real models saved in MLflow's format, shared by the model server tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer


@dataclass(frozen=True)
class Dataset:
    features: pd.DataFrame
    target: pd.Series

    @property
    def rows(self) -> list[list[float]]:
        return [[float(v) for v in row] for row in self.features.to_numpy()[:8]]


def breast_cancer() -> Dataset:
    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    return Dataset(features, target)


def random_forest(data: Dataset, n_jobs: int = -1, n_estimators: int = 20) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=n_estimators, n_jobs=n_jobs, random_state=0)
    return model.fit(data.features, data.target)


def logistic_pipeline(data: Dataset) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return model.fit(data.features, data.target)


def xgboost_classifier(data: Dataset) -> Any:
    from xgboost import XGBClassifier

    model = XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1)
    return model.fit(data.features, data.target)


def save_sklearn(
    model: Any, data: Dataset, path: Path, metadata: dict[str, Any] | None = None
) -> Path:
    import mlflow.sklearn
    import skops.io
    from mlflow.models import infer_signature

    example = data.features.iloc[:3]
    mlflow.sklearn.save_model(
        model,
        str(path),
        serialization_format="skops",
        # Trust exactly what this model needs (tree ensembles: the Tree node storage).
        skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        metadata=metadata,
    )
    return path


def save_xgboost(model: Any, data: Dataset, path: Path) -> Path:
    import mlflow.xgboost
    from mlflow.models import infer_signature

    example = data.features.iloc[:3]
    mlflow.xgboost.save_model(
        model,
        str(path),
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
    )
    return path


def expected(model: Any, rows: list[list[float]], columns: pd.Index) -> list[Any]:
    """What the model itself predicts for ``rows``, in JSON terms."""
    predictions: list[Any] = np.asarray(model.predict(pd.DataFrame(rows, columns=columns))).tolist()
    return predictions
