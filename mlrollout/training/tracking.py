"""Where runs go, and how a trained model lands in MLflow (run, model, registered version)."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .algorithms import FLAVOR_SKLEARN, Algorithm
from .profile import METADATA_KEY as PROFILE_KEY

DEFAULT_STORE = Path(".mlrollout") / "mlflow"
LOCAL_UI_URL = "http://127.0.0.1:5000"


class TrackingError(RuntimeError):
    """The tracking server cannot be used; the message says what to do."""


def local_store() -> Path:
    """The embedded default store (MLROLLOUT_HOME overrides the project-local folder)."""
    home = os.environ.get("MLROLLOUT_HOME")
    return (Path(home) / "mlflow") if home else DEFAULT_STORE.resolve()


def check_reachable(uri: str, timeout_s: float = 5) -> None:
    """Fail fast, before anything is trained or registered, when the server does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s) as resp:
            if resp.status == 200:
                return
            problem = f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        problem = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        problem = str(getattr(exc, "reason", exc))
    raise TrackingError(
        f"cannot reach the MLflow tracking server at {uri}: {problem}. "
        "Start one with 'mlrollout mlflow' or pass --tracking-uri"
    )


@dataclass(frozen=True)
class Logged:
    run_id: str
    version: str
    experiment_id: str


def model_size_bytes(model: Any, algorithm: Algorithm) -> int:
    if algorithm.flavor == FLAVOR_SKLEARN:
        import skops.io

        return len(skops.io.dumps(model))
    return len(model.get_booster().save_raw("ubj"))


def flavor_of(algorithm: Algorithm, model: Any) -> tuple[Any, dict[str, Any]]:
    """The MLflow flavour module that saves ``model`` and its options (one place for logging
    it and for saving it locally to measure it)."""
    import mlflow

    if algorithm.flavor == FLAVOR_SKLEARN:
        import skops.io

        # Trust exactly the types this model needs (tree ensembles: the Tree storage).
        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        return mlflow.sklearn, {"serialization_format": "skops", "skops_trusted_types": trusted}
    return mlflow.xgboost, {}


def save_locally(algorithm: Algorithm, model: Any, path: Path) -> Path:
    """The MLflow model directory ``log_and_register`` would upload, saved at ``path``."""
    flavor, options = flavor_of(algorithm, model)
    flavor.save_model(model, path=str(path), **options)
    return path


def log_and_register(
    *,
    algorithm: Algorithm,
    model: Any,
    example: Any,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    experiment_id: str,
    registered_model: str,
    reference_profile: dict[str, Any] | None = None,
) -> Logged:
    """One run with params, metrics, tags and the model, registered as a new version."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    signature = infer_signature(example, model.predict(example))
    with mlflow.start_run(experiment_id=experiment_id, run_name=algorithm.name) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.set_tags(tags)
        flavor, options = flavor_of(algorithm, model)
        metadata = None
        if reference_profile is not None:  # beside the model, and in it for the model server
            mlflow.log_dict(reference_profile, "reference_profile.json")
            metadata = {PROFILE_KEY: reference_profile}
        info = flavor.log_model(
            model, name="model", signature=signature, input_example=example,
            registered_model_name=registered_model, metadata=metadata, **options,
        )  # fmt: skip
    version = str(info.registered_model_version)
    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(registered_model, version, key, value)
    return Logged(run.info.run_id, version, experiment_id)
