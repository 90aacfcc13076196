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


def alias_version(tracking_uri: str, model: str, alias: str) -> str | None:
    """The version ``alias`` points at, or None when it is not set."""
    try:
        return str(_client(tracking_uri).get_model_version_by_alias(model, alias).version)
    except Exception:  # MLflow raises a generic MlflowException for a missing alias
        return None
