"""Against a real `mlflow server`: serve registered versions by number and by alias."""

from __future__ import annotations

from typing import Any

import pytest

from . import models
from .conftest import serve

pytestmark = pytest.mark.integration


def register(model: Any, data: models.Dataset, name: str, flavor: str) -> str:
    """Log ``model`` in a run and register it; returns the new version number."""
    import mlflow
    import skops.io
    from mlflow.models import infer_signature

    example = data.features.iloc[:3]
    signature = infer_signature(example, model.predict(example))
    with mlflow.start_run():
        if flavor == "sklearn":
            info = mlflow.sklearn.log_model(
                model, name="model", signature=signature, input_example=example,
                serialization_format="skops", registered_model_name=name,
                skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
            )  # fmt: skip
        else:
            info = mlflow.xgboost.log_model(
                model, name="model", signature=signature, input_example=example,
                registered_model_name=name,
            )  # fmt: skip
    return str(info.registered_model_version)


@pytest.mark.parametrize(("flavor", "fixture"), [("sklearn", "forest"), ("xgboost", "xgb")])
def test_registered_versions_serve_by_version_and_by_alias(
    mlflow_tracking: str,
    request: pytest.FixtureRequest,
    flavor: str,
    fixture: str,
    data: models.Dataset,
) -> None:
    from mlflow import MlflowClient

    model = request.getfixturevalue(fixture)
    name = f"served-{flavor}"
    version = register(model, data, name, flavor)
    MlflowClient().set_registered_model_alias(name, "champion", version)
    expected = models.expected(model, data.rows, data.features.columns)

    for uri in (f"models:/{name}/{version}", f"models:/{name}@champion"):
        with serve(uri) as client:
            ready = client.get("/v2/health/ready")
            assert ready.status_code == 200, ready.text
            response = client.post("/predict", json={"instances": data.rows})
            meta = client.get(f"/v2/models/{name}").json()
        assert response.status_code == 200
        assert response.json()["predictions"] == expected
        assert meta["versions"] == [version]  # an alias is pinned to the version it named
        assert response.headers["x-model-version"] == version


def test_unknown_registered_version_never_becomes_ready(mlflow_tracking: str) -> None:
    with serve("models:/no-such-model/3", load_attempts=1) as client:
        ready = client.get("/v2/health/ready")
    assert ready.status_code == 503
    assert "cannot download models:/no-such-model/3" in ready.json()["reason"]


def test_unknown_alias_never_becomes_ready(mlflow_tracking: str) -> None:
    with serve("models:/no-such-model@champion", load_attempts=1) as client:
        ready = client.get("/v2/health/ready")
    assert ready.status_code == 503
    assert "cannot resolve alias no-such-model@champion" in ready.json()["reason"]
