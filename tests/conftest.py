"""Shared fixtures: a real MLflow tracking server process for integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlrollout import tracking_server


@dataclass(frozen=True)
class MlflowServer:
    """A running `mlflow server` the tests talk to over HTTP."""

    tracking_uri: str
    store_dir: Path
    log_path: Path


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """Start a real `mlflow server` (sqlite store in a temp dir) once per test session."""
    root = tmp_path_factory.mktemp("mlflow")
    config = tracking_server.TrackingServerConfig(
        store_dir=root / "store", port=tracking_server.free_port()
    )
    log_path = root / "mlflow-server.log"
    process = tracking_server.start(config, log_path)
    try:
        yield MlflowServer(tracking_uri=config.url, store_dir=config.store_dir, log_path=log_path)
    finally:
        tracking_server.stop(process)


@pytest.fixture
def mlflow_tracking(mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the MLflow client of this test process at the test server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.tracking_uri)
    import mlflow

    mlflow.set_tracking_uri(mlflow_server.tracking_uri)
    return mlflow_server.tracking_uri


def pytest_configure(config: pytest.Config) -> None:
    # Registered here, not in pyproject.toml: every image's tag hashes pyproject.toml.
    config.addinivalue_line(
        "markers", "smoke: the e2e subset CI also runs on the second provider (make test-e2e-smoke)"
    )
    # MLflow's client must not phone home from tests.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
