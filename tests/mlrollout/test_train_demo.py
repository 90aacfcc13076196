"""`mlrollout train` end to end against a real MLflow server, and its refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mlrollout.tracking_server import free_port
from tests.conftest import MlflowServer

pytestmark = pytest.mark.integration


PARAMS = {"algorithm", "dataset", "n_samples", "n_features", "seed"}
METRICS = {
    "accuracy", "f1", "roc_auc", "training_time_s", "model_size_bytes", "memory_rss_mb",
    "memory_model_mb",
    "latency_p50_ms", "latency_p95_ms", "slo_compliant",
}  # fmt: skip


def mlrollout(*args: str, tracking_uri: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    if tracking_uri is not None:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    command = [str(Path(sys.executable).with_name("mlrollout")), *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def trained(mlflow_server: MlflowServer) -> dict[str, Any]:
    """One quick demo run into the test server (the entry point, as a user runs it)."""
    result = mlrollout(
        "train", "--quick-demo", "--json", "--registered-model", "demo-e2e",
        "--experiment", "demo-e2e", tracking_uri=mlflow_server.tracking_uri,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_three_finished_runs_with_params_and_metrics(
    trained: dict[str, Any], mlflow_tracking: str
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    experiment = client.get_experiment_by_name("demo-e2e")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.params["algorithm"] for r in runs) == [
        "logistic_regression", "random_forest", "xgboost",
    ]  # fmt: skip
    for run in runs:
        assert run.info.status == "FINISHED"
        assert set(run.data.params) >= PARAMS
        assert set(run.data.metrics) >= METRICS
        metrics = run.data.metrics
        assert 0 < metrics["latency_p50_ms"] <= metrics["latency_p95_ms"]
        assert metrics["accuracy"] > 0.8
        assert metrics["model_size_bytes"] > 0
        # measured in a fresh process: MLflow, pandas and the model resident; the model a share
        assert 100 < metrics["memory_rss_mb"] < 2048
        assert 0 < metrics["memory_model_mb"] < metrics["memory_rss_mb"]
        assert run.data.tags["slo.accuracy"] in {"met", "missed"}


def test_three_versions_with_signatures_and_input_examples(
    trained: dict[str, Any], mlflow_tracking: str
) -> None:
    import mlflow
    from mlflow import MlflowClient

    versions = MlflowClient().search_model_versions("name = 'demo-e2e'")
    assert sorted(v.version for v in versions) == ["1", "2", "3"]
    for version in versions:
        info = mlflow.models.get_model_info(f"models:/demo-e2e/{version.version}")
        assert info.signature is not None
        assert len(info.signature.inputs.input_names()) == 30
        assert info.saved_input_example_info is not None
        assert version.tags["mlrollout.algorithm"] in {
            "random_forest",
            "xgboost",
            "logistic_regression",
        }
    assert trained["champion"]["version"] in {"1", "2", "3"}
    assert all(r["run_url"].startswith("http://127.0.0.1:") for r in trained["runs"])


def test_a_demo_version_serves_the_trained_models_predictions(
    trained: dict[str, Any], mlflow_tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.sklearn
    import pandas as pd
    from fastapi.testclient import TestClient
    from sklearn.datasets import load_breast_cancer

    from model_server.app import create_app
    from model_server.settings import ServerSettings

    forest = next(r for r in trained["runs"] if r["algorithm"] == "random_forest")
    uri = f"models:/demo-e2e/{forest['version']}"
    # Reloading in-process needs MLflow's explicit opt-in to deserialisation (skops included);
    # the server instead loads with its own allow-list.
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    model = mlflow.sklearn.load_model(uri)
    features = load_breast_cancer(as_frame=True).data.iloc[:20]
    app = create_app(ServerSettings(model_uri=uri))
    with TestClient(app) as client:
        deadline = time.monotonic() + 60
        while client.get("/v2/health/ready").status_code != 200:
            assert time.monotonic() < deadline, client.get("/v2/health/ready").json()
            time.sleep(0.1)
        response = client.post("/predict", json={"instances": features.to_numpy().tolist()})
    assert response.status_code == 200
    assert response.json()["predictions"] == model.predict(pd.DataFrame(features)).tolist()


def registered_versions(tracking_uri: str, name: str) -> int:
    from mlflow import MlflowClient

    return len(MlflowClient(tracking_uri).search_model_versions(f"name = '{name}'"))


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--algorithms", "random_forest,svm"], 2, "error: unknown algorithm 'svm'"),
        (["--min-accuracy", "7"], 2, "error: invalid SLO 'min_accuracy'"),
    ],
)
def test_bad_input_is_refused_before_anything_is_registered(
    mlflow_server: MlflowServer, args: list[str], code: int, message: str
) -> None:
    result = mlrollout(
        "train", "--quick-demo", "--registered-model", "never-made", *args,
        tracking_uri=mlflow_server.tracking_uri,
    )  # fmt: skip
    assert result.returncode == code
    assert message in result.stderr
    assert registered_versions(mlflow_server.tracking_uri, "never-made") == 0


def test_invalid_slo_file_is_refused(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    slo = tmp_path / "slo.yaml"
    slo.write_text("max_latency_p95_ms: soon\n")
    result = mlrollout(
        "train", "--quick-demo", "--registered-model", "never-made", "--slo-file", str(slo),
        tracking_uri=mlflow_server.tracking_uri,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"error: invalid SLO 'max_latency_p95_ms' in {slo}" in result.stderr
    assert registered_versions(mlflow_server.tracking_uri, "never-made") == 0


def test_unreachable_tracking_server_is_one_clear_line() -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = mlrollout("train", "--quick-demo", tracking_uri=uri)
    assert result.returncode == 1
    assert time.monotonic() - started < 30
    assert f"error: cannot reach the MLflow tracking server at {uri}" in result.stderr
    assert "Start one with 'mlrollout mlflow'" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_every_command() -> None:
    result = mlrollout("--help")
    assert result.returncode == 0
    for command in ("train", "mlflow", "gates"):
        assert command in result.stdout


def test_a_model_that_allocates_at_warm_up_shows_it(tmp_path: Path) -> None:
    """The memory probe predicts a warm-up batch: a model whose prediction allocates 300 MiB
    (and keeps it) reports that in memory_model_mb, not just what it took to load."""
    import mlflow.pyfunc
    import pandas as pd

    from mlrollout.testbed.models import MEMORY_HOG
    from mlrollout.training.memory import serving_memory

    code = tmp_path / "hog.py"
    code.write_text(MEMORY_HOG.format(mib=300))
    mlflow.pyfunc.save_model(str(tmp_path / "model"), python_model=str(code))
    features = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    measured = serving_memory(tmp_path / "model", features)
    assert measured["memory_model_mb"] > 280, measured
