"""The benchmark's models, each saved twice: as an MLflow model and as an MLServer model.

The same fitted object goes into both, so every server answers with the same trees. A forest
is trained with `n_jobs=-1`, as people train it; "tuned" copies carry `n_jobs=1` (the best an
MLServer user can do without touching the server).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BenchModel:
    name: str  # also the served model name
    model: Any  # as trained
    columns: list[str]
    rows: np.ndarray[Any, Any]  # request rows, drawn from the training table
    mlflow_dir: Path
    mlserver_dir: Path  # the model as trained
    mlserver_tuned_dir: Path  # the same model with n_jobs=1


def _dataset() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)  # 569 rows, 30 features
    return x, y


def _random_forest() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=100, n_jobs=-1, random_state=0)


def _xgboost() -> Any:
    from mlrollout.training.algorithms import ALGORITHMS

    algorithm = ALGORITHMS["xgboost"]  # the training demo's model, full size
    return algorithm.build(algorithm.full, 0)


BUILDERS = {"forest": _random_forest, "xgboost": _xgboost}


def build(name: str, root: Path) -> BenchModel:
    x, y = _dataset()
    model = BUILDERS[name]().fit(x, y)
    root = root / name
    mlflow_dir = _save_mlflow(name, model, x, root / "mlflow")
    tuned = copy.deepcopy(model)
    tuned.set_params(n_jobs=1)
    return BenchModel(
        name=name, model=model, columns=[str(c) for c in x.columns], rows=x.to_numpy(),
        mlflow_dir=mlflow_dir,
        mlserver_dir=_save_mlserver(name, model, root / "mlserver"),
        mlserver_tuned_dir=_save_mlserver(name, tuned, root / "mlserver-tuned"),
    )  # fmt: skip


def _save_mlflow(name: str, model: Any, x: Any, path: Path) -> Path:
    from mlflow.models import infer_signature

    example = x.iloc[:3]
    signature = infer_signature(example, model.predict(example))
    if name == "xgboost":
        import mlflow.xgboost

        mlflow.xgboost.save_model(model, str(path), signature=signature, input_example=example)
        return path
    import mlflow.sklearn
    import skops.io

    mlflow.sklearn.save_model(
        model, str(path), serialization_format="skops", signature=signature,
        skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
        input_example=example,
    )  # fmt: skip
    return path


def _save_mlserver(name: str, model: Any, path: Path) -> Path:
    """A model-settings.json folder for MLServer's own scikit-learn / XGBoost runtime."""
    path.mkdir(parents=True)
    if name == "xgboost":
        model.save_model(str(path / "model.json"))
        uri, runtime = "./model.json", "mlserver_xgboost.XGBoostModel"
    else:
        import joblib

        joblib.dump(model, path / "model.joblib")
        uri, runtime = "./model.joblib", "mlserver_sklearn.SKLearnModel"
    settings = {"name": name, "implementation": runtime, "parameters": {"uri": uri}}
    (path / "model-settings.json").write_text(json.dumps(settings))
    return path
