"""The demo models in a real MLflow server: trained once, then registered as needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .tools import TestbedError


def train_demo(
    tracking_uri: str, registered_model: str, *, show_progress: bool = False, timeout_s: float = 600
) -> dict[str, dict[str, Any]]:
    """`mlrollout train --quick-demo` into ``tracking_uri``: algorithm → its run's summary
    (run_id, version, metrics…), three versions of ``registered_model``."""
    command = [
        str(Path(sys.executable).with_name("mlrollout")), "train", "--quick-demo", "--json",
        "--tracking-uri", tracking_uri, "--registered-model", registered_model,
    ]  # fmt: skip
    result = subprocess.run(
        command, stdout=subprocess.PIPE, stderr=None if show_progress else subprocess.PIPE,
        text=True, timeout=timeout_s, check=False,
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri},
    )  # fmt: skip
    if result.returncode != 0:
        why = (result.stderr or "")[-3000:] or "its error is above"
        raise TestbedError(f"training into {tracking_uri} failed: {why}")
    return {run["algorithm"]: run for run in json.loads(result.stdout)["runs"]}


def _client(tracking_uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def ensure_registered(tracking_uri: str, model: str) -> None:
    client = _client(tracking_uri)
    if not client.search_registered_models(filter_string=f"name = '{model}'"):
        client.create_registered_model(model)


def register_copy(tracking_uri: str, model: str, source_model: str, source_version: str) -> str:
    """A new version of ``model`` holding the model (and run metrics) of another version."""
    ensure_registered(tracking_uri, model)
    # MLflow resolves a registered-model source to the same run and logged model.
    version = _client(tracking_uri).create_model_version(
        model, f"models:/{source_model}/{source_version}"
    )
    return str(version.version)


def register_unloadable(tracking_uri: str, model: str, run_id: str) -> str:
    """A version of ``model`` whose run has good metrics but whose model files do not exist (a
    broken upload): its gates pass, and its pods never load it."""
    ensure_registered(tracking_uri, model)
    client = _client(tracking_uri)
    source = f"{client.get_run(run_id).info.artifact_uri}/model-that-was-never-uploaded"
    return str(client.create_model_version(model, source, run_id=run_id).version)


# An MLflow model from code whose first prediction (the model server's warm-up) allocates
# {mib} MiB and keeps it: a model that loads small and serves big.
MEMORY_HOG = """
import mlflow, numpy, pandas
from mlflow.pyfunc import PythonModel

class Hog(PythonModel):
    ballast = None

    def predict(self, context, model_input: pandas.DataFrame, params=None) -> list[float]:
        if Hog.ballast is None:
            Hog.ballast = numpy.ones({mib} * 1024 * 1024 // 8)
        return [0.0] * len(model_input)

mlflow.models.set_model(Hog())
"""


def register_with_metrics(
    tracking_uri: str, model: str, source_version: str, metrics: dict[str, float]
) -> str:
    """A new version of ``model`` serving ``source_version``'s model from a run of its own whose
    metrics are the source run's with ``metrics`` changed (what a run that measured more says)."""
    client = _client(tracking_uri)
    run = client.get_run(client.get_model_version(model, source_version).run_id)
    new_run = client.create_run(run.info.experiment_id, run_name="metrics-changed")
    for key, value in {**run.data.metrics, **metrics}.items():
        client.log_metric(new_run.info.run_id, key, value)
    client.set_terminated(new_run.info.run_id)
    # A copy of the files in the new run: MLflow takes a source only from the version's own run.
    import tempfile

    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as scratch:
        files = mlflow.artifacts.download_artifacts(
            client.get_model_version_download_uri(model, source_version),
            dst_path=scratch, tracking_uri=tracking_uri,
        )  # fmt: skip
        client.log_artifacts(new_run.info.run_id, files, "model")
    source = f"{new_run.info.artifact_uri}/model"
    created = client.create_model_version(model, source, run_id=new_run.info.run_id)
    return str(created.version)


def register_memory_hog(
    tracking_uri: str, model: str, mib: int, metrics: dict[str, float], example: Any
) -> str:
    """A version of ``model`` that allocates ``mib`` MiB at warm-up, logged with ``metrics``."""
    import tempfile

    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    with tempfile.TemporaryDirectory() as scratch:
        code = Path(scratch) / "hog.py"
        code.write_text(MEMORY_HOG.format(mib=mib))
        with mlflow.start_run(run_name="memory-hog"):
            mlflow.log_metrics(metrics)
            info = mlflow.pyfunc.log_model(
                name="model", python_model=str(code), input_example=example,
                registered_model_name=model,
            )  # fmt: skip
    return str(info.registered_model_version)


def register_disagreeing(tracking_uri: str, model: str, claims: dict[str, float]) -> str:
    """A version of ``model`` trained on shuffled labels (it answers, fast, and is wrong about
    half the time), logged with the metrics ``claims``: it passes every offline gate that
    trusts them, and only a comparison with the champion on live inputs can tell."""
    import mlflow

    from mlrollout.training import profile, runner, tracking
    from mlrollout.training.algorithms import ALGORITHMS

    mlflow.set_tracking_uri(tracking_uri)
    forest = ALGORITHMS["random_forest"]
    x_train, x_test, y_train, _ = runner.load_dataset(seed=0)
    shuffled = y_train.sample(frac=1.0, random_state=7).to_numpy()
    fitted = forest.build(forest.quick, 0).fit(x_train, shuffled)
    # Not mlflow.set_experiment: it would stay the process's active experiment, and a caller's
    # next run on another server would look for it there.
    client = _client(tracking_uri)
    found = client.get_experiment_by_name("mlrollout-disagreeing")
    experiment_id = (
        found.experiment_id if found else client.create_experiment("mlrollout-disagreeing")
    )
    logged = tracking.log_and_register(
        algorithm=forest, model=fitted, example=x_test.iloc[:5], params={"labels": "shuffled"},
        metrics=claims, tags={"mlrollout.algorithm": forest.name},
        experiment_id=experiment_id, registered_model=model,
        reference_profile=profile.build_reference(x_train, fitted.predict(x_train)),
    )  # fmt: skip
    return logged.version


def alias_version(tracking_uri: str, model: str, alias: str) -> str | None:
    """The version ``alias`` points at, or None when it is not set."""
    try:
        return str(_client(tracking_uri).get_model_version_by_alias(model, alias).version)
    except Exception:  # MLflow raises a generic MlflowException for a missing alias
        return None
