"""The fast paths give exactly the model's own answers, and the server falls back when not."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.datasets import make_classification

from model_server import booster, forest, predictor

from . import models


def _jittered(matrix: Any, rows: int, seed: int) -> Any:
    generator = np.random.default_rng(seed)
    picked = matrix[generator.integers(0, matrix.shape[0], rows)]
    return picked * generator.normal(1.0, 0.05, picked.shape)


@pytest.mark.parametrize("n_jobs", [1, -1])
def test_packed_forest_is_bit_identical_on_every_training_row(n_jobs: int) -> None:
    data = models.breast_cancer()
    model = models.random_forest(data, n_jobs=n_jobs, n_estimators=30)
    fast = forest.ForestProba(model)
    matrix = data.features.to_numpy()
    assert np.array_equal(fast(matrix), model.predict_proba(data.features))
    assert np.array_equal(fast.predict(matrix), model.predict(data.features))


@pytest.mark.parametrize("rows", [1, 7, 64, 300])
def test_deep_multiclass_extra_trees_are_bit_identical(rows: int) -> None:
    from sklearn.ensemble import ExtraTreesClassifier

    # Deep trees (depth ~30+) go through the compaction of settled pairs; four classes.
    x, y = make_classification(4000, 12, n_informative=8, n_classes=4, random_state=1)
    model = ExtraTreesClassifier(n_estimators=15, random_state=0).fit(x, y)
    fast = forest.ForestProba(model)
    matrix = _jittered(x, rows, seed=rows)
    assert max(t.max_depth for t in fast._trees) > 16
    assert np.array_equal(fast(matrix), model.predict_proba(matrix))


def test_a_row_with_a_missing_value_follows_the_trees_own_rule() -> None:
    from sklearn.ensemble import RandomForestClassifier

    x, y = make_classification(600, 6, random_state=2)
    x[::7, 2] = np.nan  # trained with missing values: each split learnt where NaN goes
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    matrix = _jittered(np.nan_to_num(x), 50, seed=3)
    matrix[::3, 2] = np.nan
    assert np.array_equal(forest.ForestProba(model)(matrix), model.predict_proba(matrix))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_xgboost_inplace_is_identical_to_predict_proba(n_classes: int) -> None:
    from xgboost import XGBClassifier

    x, y = make_classification(500, 8, n_informative=5, n_classes=n_classes, random_state=4)
    model = XGBClassifier(n_estimators=30, max_depth=4, n_jobs=1).fit(x, y)
    assert booster.supports(model)
    fast = booster.BoosterProba(model)
    matrix = _jittered(x, 40, seed=5)
    matrix[0, 1] = np.nan
    assert np.array_equal(fast(matrix), model.predict_proba(matrix))
    assert np.array_equal(fast.predict(matrix), model.predict(matrix))


def test_fast_paths_are_only_for_the_models_they_understand() -> None:
    data = models.breast_cancer()
    assert not forest.supports(models.logistic_pipeline(data))
    assert not forest.supports(models.xgboost_classifier(data))
    assert not booster.supports(models.random_forest(data))
    from xgboost import XGBClassifier

    ranker = XGBClassifier(objective="binary:hinge", n_estimators=3).fit(data.features, data.target)
    assert not booster.supports(ranker)


def test_a_fast_path_that_disagrees_is_replaced_by_the_models_own(
    forest_dir: Any, tmp_path: Any
) -> None:
    from model_server import loader
    from model_server.settings import ServerSettings

    source = loader.resolve(str(forest_dir), None)
    loaded = loader.load(source, ServerSettings(model_uri=str(forest_dir)), tmp_path)
    built = predictor.build(loaded)
    rows = predictor.example_matrix(built)
    assert predictor.verify_fast_path(built, rows).fast_path == "forest-packed"
    fast = built._calls[predictor.OUTPUT_PROBA]
    built._calls[predictor.OUTPUT_PROBA] = lambda m: fast(m) + 1e-12  # off in the last bits
    assert predictor.verify_fast_path(built, rows).fast_path == "none"


def test_the_saved_models_load_onto_their_fast_paths(
    forest_dir: Any, xgb_dir: Any, logistic_dir: Any, tmp_path: Any
) -> None:
    from model_server import loader
    from model_server.settings import ServerSettings

    chosen = {}
    for path in (forest_dir, xgb_dir, logistic_dir):
        loaded = loader.load(
            loader.resolve(str(path), None), ServerSettings(model_uri=str(path)), tmp_path
        )
        built = predictor.build(loaded)
        chosen[loaded.flavor, type(loaded.model).__name__] = predictor.verify_fast_path(
            built, predictor.example_matrix(built)
        ).fast_path
    assert chosen == {
        ("sklearn", "RandomForestClassifier"): "forest-packed",
        ("xgboost", "XGBClassifier"): "xgboost-inplace",
        ("sklearn", "Pipeline"): "none",
    }
