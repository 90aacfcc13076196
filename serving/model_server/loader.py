"""Resolve a model URI and load the model with its flavour's own loader.

scikit-learn and XGBoost models are loaded natively (not through pyfunc) so that the runtime can
call `predict` directly and set the model's thread count; anything else goes through pyfunc.
Deserialisation is deliberate: skops models load against the server's own allow-list (not the
list stored inside the model), pickled models only with `trust_model_code`.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings import ServerSettings

log = logging.getLogger(__name__)

# Types scikit-learn tree ensembles need beyond skops' defaults (which already trust public
# estimators and numpy). Extend per deployment with MODEL_SERVER_TRUSTED_TYPES.
DEFAULT_TRUSTED_TYPES: tuple[str, ...] = ("sklearn.tree._tree.Tree",)

_REGISTRY_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))/?$")


class ModelLoadError(Exception):
    """The model cannot be served; the message says why and what to do."""


@dataclass(frozen=True)
class ModelSource:
    """Where the model comes from, with an alias already pinned to a version."""

    uri: str
    name: str
    version: str
    # The URI actually downloaded: an alias is pinned so a moving alias cannot change mid-load.
    pinned_uri: str


@dataclass
class LoadedModel:
    """A model ready to call, plus what the server needs to validate inputs and describe it."""

    source: ModelSource
    flavor: str  # "sklearn" | "xgboost" | "pyfunc"
    model: Any
    mlflow_model: Any  # mlflow.models.Model (MLmodel file contents)
    local_path: Path
    input_example: Any  # DataFrame, ndarray or None


def served_name(uri: str, override: str | None) -> str:
    """The name clients use in /v2/models/{name}, known before anything is loaded."""
    if override:
        return override
    match = _REGISTRY_URI.match(uri)
    if match:
        return match["name"]
    return Path(uri.removeprefix("file://").rstrip("/")).name or uri


def resolve(uri: str, served_name: str | None) -> ModelSource:
    """Turn the configured URI into a pinned source; aliases are looked up in the registry."""
    match = _REGISTRY_URI.match(uri)
    if match:
        name = match["name"]
        version = match["version"]
        if version is None:
            version = _version_for_alias(name, match["alias"])
        return ModelSource(uri, served_name or name, version, f"models:/{name}/{version}")
    if "://" in uri or uri.startswith(("runs:/", "models:/")):
        if not uri.startswith(("file://", "runs:/", "models:/")):
            raise ModelLoadError(
                f"unsupported model URI {uri!r}: use models:/<name>/<version>, "
                "models:/<name>@<alias>, runs:/<run-id>/<path> or a local directory"
            )
        return ModelSource(uri, served_name or uri.rstrip("/").rsplit("/", 1)[-1], "1", uri)
    path = Path(uri)
    if not (path / "MLmodel").is_file():
        raise ModelLoadError(f"{uri!r} is not an MLflow model directory (no MLmodel file in it)")
    return ModelSource(uri, served_name or path.resolve().name, "local", str(path.resolve()))


def _version_for_alias(name: str, alias: str) -> str:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        raise ModelLoadError(f"cannot resolve alias {name}@{alias}: {exc.message}") from exc


def fetch(source: ModelSource, download_dir: Path) -> Path:
    """A local directory holding the model (downloaded from MLflow unless already local)."""
    if Path(source.pinned_uri).is_dir():
        return Path(source.pinned_uri)
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    target = Path(tempfile.mkdtemp(prefix="model-", dir=download_dir))
    try:
        return Path(mlflow.artifacts.download_artifacts(source.pinned_uri, dst_path=str(target)))
    except MlflowException as exc:
        raise ModelLoadError(f"cannot download {source.uri}: {exc.message}") from exc


def load(source: ModelSource, settings: ServerSettings, download_dir: Path) -> LoadedModel:
    """Download (into ``download_dir``) and load the model with its most direct loader."""
    from mlflow.models import Model

    local = fetch(source, download_dir)
    try:
        mlflow_model = Model.load(str(local))
    except Exception as exc:
        raise ModelLoadError(f"unreadable MLmodel file in {source.uri}: {exc}") from exc
    flavors = mlflow_model.flavors
    if "xgboost" in flavors:
        flavor, model = "xgboost", _load_xgboost(local, settings)
    elif "sklearn" in flavors:
        flavor, model = "sklearn", _load_sklearn(local, flavors["sklearn"], settings)
    elif "python_function" in flavors:
        flavor, model = "pyfunc", _load_pyfunc(local, settings)
    else:
        raise ModelLoadError(f"{source.uri} has no servable flavour (flavours: {sorted(flavors)})")
    example = _input_example(mlflow_model, local)
    log.info("model loaded", extra={"uri": source.uri, "version": source.version, "flavor": flavor})
    return LoadedModel(source, flavor, model, mlflow_model, local, example)


def _load_sklearn(local: Path, conf: dict[str, Any], settings: ServerSettings) -> Any:
    model_file = local / conf.get("pickled_model", "model.pkl")
    fmt = conf.get("serialization_format", "pickle")
    if fmt == "skops":
        import skops.io
        from skops.io.exceptions import UntrustedTypesFoundException

        trusted = [*DEFAULT_TRUSTED_TYPES, *settings.trusted_types]
        try:
            model = skops.io.load(model_file, trusted=trusted)
        except UntrustedTypesFoundException as exc:
            raise ModelLoadError(
                f"the model needs types outside the trusted list ({exc}); if you trust this "
                "model, add them to MODEL_SERVER_TRUSTED_TYPES"
            ) from exc
    elif settings.trust_model_code:
        import cloudpickle

        with model_file.open("rb") as fh:
            model = cloudpickle.load(fh)
    else:
        raise ModelLoadError(
            f"the model is serialised with {fmt}, which runs code when loaded; re-log it with "
            "serialization_format='skops' or set MODEL_SERVER_TRUST_MODEL_CODE=true"
        )
    if settings.override_model_threads:
        _set_sklearn_threads(model, settings.inference_threads)
    return model


def _set_sklearn_threads(model: Any, threads: int) -> None:
    """Every `n_jobs` in the estimator tree → `threads` (a pool per call costs ~20 ms)."""
    params = model.get_params(deep=True) if hasattr(model, "get_params") else {}
    overrides = {k: threads for k in params if k == "n_jobs" or k.endswith("__n_jobs")}
    if overrides:
        model.set_params(**overrides)


def _load_xgboost(local: Path, settings: ServerSettings) -> Any:
    import mlflow.xgboost

    model = mlflow.xgboost.load_model(str(local))
    if settings.override_model_threads:
        if hasattr(model, "set_params") and hasattr(model, "get_booster"):
            model.set_params(n_jobs=settings.inference_threads)
            model.get_booster().set_param({"nthread": settings.inference_threads})
        elif hasattr(model, "set_param"):
            model.set_param({"nthread": settings.inference_threads})
    return model


def _load_pyfunc(local: Path, settings: ServerSettings) -> Any:
    import mlflow.pyfunc

    if not settings.trust_model_code:
        raise ModelLoadError(
            "this model is a generic python_function model, whose loading runs its own code; "
            "set MODEL_SERVER_TRUST_MODEL_CODE=true to serve it"
        )
    return mlflow.pyfunc.load_model(str(local))


def _input_example(mlflow_model: Any, local: Path) -> Any:
    try:
        return mlflow_model.load_input_example(str(local))
    except Exception as exc:  # a missing or unreadable example is not fatal: schema rows exist
        log.warning("input example unreadable; warm-up uses a schema row", extra={"err": str(exc)})
        return None
