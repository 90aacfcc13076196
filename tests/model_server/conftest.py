"""Fixtures: real MLflow model directories and a helper to run the app until it is ready."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from model_server.app import create_app
from model_server.runtime import State
from model_server.settings import ServerSettings

from . import models


@pytest.fixture(scope="session")
def data() -> models.Dataset:
    return models.breast_cancer()


@pytest.fixture(scope="session")
def forest(data: models.Dataset) -> Any:
    return models.random_forest(data)


@pytest.fixture(scope="session")
def forest_dir(tmp_path_factory: pytest.TempPathFactory, forest: Any, data: models.Dataset) -> Path:
    return models.save_sklearn(forest, data, tmp_path_factory.mktemp("m") / "forest")


@pytest.fixture(scope="session")
def profiled_dir(
    tmp_path_factory: pytest.TempPathFactory, forest: Any, data: models.Dataset
) -> Path:
    """The forest with the reference profile training logs (the live profile's bins)."""
    from mlrollout.training.profile import METADATA_KEY, build_reference

    reference = build_reference(data.features, forest.predict(data.features))
    path = tmp_path_factory.mktemp("m") / "profiled"
    return models.save_sklearn(forest, data, path, metadata={METADATA_KEY: reference})


@pytest.fixture(scope="session")
def logistic(data: models.Dataset) -> Any:
    return models.logistic_pipeline(data)


@pytest.fixture(scope="session")
def logistic_dir(
    tmp_path_factory: pytest.TempPathFactory, logistic: Any, data: models.Dataset
) -> Path:
    return models.save_sklearn(logistic, data, tmp_path_factory.mktemp("m") / "logistic")


@pytest.fixture(scope="session")
def xgb(data: models.Dataset) -> Any:
    return models.xgboost_classifier(data)


@pytest.fixture(scope="session")
def xgb_dir(tmp_path_factory: pytest.TempPathFactory, xgb: Any, data: models.Dataset) -> Path:
    return models.save_xgboost(xgb, data, tmp_path_factory.mktemp("m") / "xgb")


@pytest.fixture(scope="session")
def flaky_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow.pyfunc

    path = tmp_path_factory.mktemp("m") / "flaky"
    example = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    mlflow.pyfunc.save_model(
        str(path), python_model=str(Path(__file__).with_name("flaky_model.py")),
        input_example=example,
    )  # fmt: skip
    return path


def wait_until_settled(app: Any, timeout_s: float = 30) -> State:
    """Wait until the model load finished one way or the other (every attempt made)."""
    deadline = time.monotonic() + timeout_s
    while app.state.runtime.state is State.LOADING and time.monotonic() < deadline:
        time.sleep(0.02)
    return app.state.runtime.state  # type: ignore[no-any-return]


@contextmanager
def serve(model_uri: str | Path, **overrides: Any) -> Iterator[TestClient]:
    """The app on ``model_uri``, with the model loaded (or failed) before the block runs."""
    settings = ServerSettings(model_uri=str(model_uri), load_retry_seconds=0, **overrides)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_until_settled(app)
        yield client
