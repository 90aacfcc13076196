"""One calling convention over every flavour: `predict(matrix, output) -> ndarray`.

It also derives what input validation needs (feature names, width, NaN support) from the MLflow
signature and the model, and picks the fastest verified way to call the model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import booster, forest
from .inputs import FloatArray, InputSpec
from .loader import LoadedModel

log = logging.getLogger(__name__)

Array = npt.NDArray[Any]
OUTPUT_PREDICT = "predict"
OUTPUT_PROBA = "predict_proba"


@dataclass
class Predictor:
    """A loaded model behind a uniform, thread-confined call."""

    loaded: LoadedModel
    spec: InputSpec
    outputs: tuple[str, ...]
    # The flavour's predict functions, keyed by output name; each takes the float matrix.
    _calls: dict[str, Callable[[FloatArray], Array]]
    fast_path: str  # what the hot path runs, for logs and the info metric

    def predict(self, matrix: FloatArray, output: str = OUTPUT_PREDICT) -> Array:
        return np.asarray(self._calls[output](matrix))


def build(loaded: LoadedModel, use_fast_path: bool = True) -> Predictor:
    model = loaded.model
    spec = _input_spec(loaded)
    frame = _frame_builder(loaded, spec)
    calls: dict[str, Callable[[FloatArray], Array]]
    if loaded.flavor == "pyfunc":
        calls = {OUTPUT_PREDICT: lambda m: _as_array(model.predict(frame(m)))}
    else:
        calls = {OUTPUT_PREDICT: lambda m: model.predict(frame(m))}
        if hasattr(model, "predict_proba"):
            calls[OUTPUT_PROBA] = lambda m: model.predict_proba(frame(m))
    fast: forest.ForestProba | booster.BoosterProba | None = None
    fast_path = "none"
    if use_fast_path and loaded.flavor == "sklearn" and forest.supports(model):
        fast_path, fast = "forest-packed", forest.ForestProba(model)
    elif use_fast_path and loaded.flavor == "xgboost" and booster.supports(model):
        fast_path, fast = "xgboost-inplace", booster.BoosterProba(model)
    if fast is not None:
        calls = {OUTPUT_PREDICT: fast.predict, OUTPUT_PROBA: fast}
    return Predictor(loaded, spec, tuple(calls), calls, fast_path)


def _as_array(result: Any) -> Array:
    if hasattr(result, "to_numpy"):
        result = result.to_numpy()
    array = np.asarray(result)
    # A one-column frame of predictions is a vector of predictions.
    return array.reshape(-1) if array.ndim == 2 and array.shape[1] == 1 else array


def _input_spec(loaded: LoadedModel) -> InputSpec:
    model, signature = loaded.model, loaded.mlflow_model.signature
    names: tuple[str, ...] | None = None
    width: int | None = None
    schema = signature.inputs if signature is not None else None
    if schema is not None and schema.is_tensor_spec():
        if len(schema.inputs) == 1:
            shape = schema.inputs[0].shape
            width = int(shape[-1]) if shape and shape[-1] > 0 else None
    elif schema is not None and schema.has_input_names():
        names = tuple(schema.input_names())
    if names is None and hasattr(model, "feature_names_in_"):
        names = tuple(str(n) for n in model.feature_names_in_)
    if names is not None:
        width = len(names)
    elif width is None:
        width = _model_width(model)
    return InputSpec(names, width, _allows_nan(loaded))


def _model_width(model: Any) -> int | None:
    if hasattr(model, "n_features_in_"):
        return int(model.n_features_in_)
    if hasattr(model, "num_features"):
        return int(model.num_features())
    return None


def _allows_nan(loaded: LoadedModel) -> bool:
    if loaded.flavor == "xgboost":
        return True  # XGBoost treats NaN as missing by design
    if loaded.flavor == "sklearn":
        from sklearn.utils import get_tags

        try:
            return bool(get_tags(loaded.model).input_tags.allow_nan)
        except (AttributeError, TypeError, ValueError):
            return False
    return False  # pyfunc: be strict; the model's own schema cannot say


def _frame_builder(loaded: LoadedModel, spec: InputSpec) -> Callable[[FloatArray], Any]:
    """What the model's predict wants: a named DataFrame when it was fitted on one."""
    needs_frame = loaded.flavor == "pyfunc" or hasattr(loaded.model, "feature_names_in_")
    if not needs_frame or spec.feature_names is None:
        return lambda m: m
    import pandas as pd

    columns = list(spec.feature_names)
    return lambda m: pd.DataFrame(m, columns=columns, copy=False)


def example_matrix(predictor: Predictor) -> FloatArray:
    """Rows for the warm-up: the model's input example, else one row of zeros from the schema."""
    example, spec = predictor.loaded.input_example, predictor.spec
    if example is not None:
        if hasattr(example, "columns") and spec.feature_names is not None:
            missing = [n for n in spec.feature_names if n not in example.columns]
            if not missing:
                return np.asarray(example[list(spec.feature_names)], dtype=np.float64)
        array = np.asarray(example, dtype=np.float64)
        return array.reshape(1, -1) if array.ndim == 1 else array
    if spec.n_features is None:
        raise ValueError("the model has no input example and no schema to build a warm-up row")
    return np.zeros((1, spec.n_features), dtype=np.float64)


def verification_rows(rows: FloatArray, count: int = 256) -> FloatArray:
    """``rows`` and jittered copies of them (fixed seed): more split paths than the example's."""
    generator = np.random.default_rng(0)
    picked = rows[generator.integers(0, rows.shape[0], count)]
    jitter = generator.normal(1.0, 0.1, picked.shape) + generator.normal(0.0, 0.1, picked.shape)
    finite = np.isfinite(picked)  # a missing value stays missing
    return np.concatenate([rows, np.where(finite, picked * jitter, picked)])


def verify_fast_path(predictor: Predictor, rows: FloatArray) -> Predictor:
    """Keep the fast path only if it reproduces the model's own predictions on ``rows``."""
    if predictor.fast_path == "none":
        return predictor
    rows = verification_rows(rows)
    reference = build(predictor.loaded, use_fast_path=False)
    same = np.array_equal(
        predictor.predict(rows, OUTPUT_PROBA), reference.predict(rows, OUTPUT_PROBA)
    ) and np.array_equal(predictor.predict(rows), reference.predict(rows))
    if same:
        return predictor
    log.warning("fast path disagrees with the model; using the model's own predict")
    return reference
