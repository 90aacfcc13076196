"""Every endpoint on a real (locally saved) MLflow scikit-learn model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from . import models
from .conftest import serve


def test_liveness_and_readiness_after_load(forest_dir: Path) -> None:
    with serve(forest_dir) as client:
        assert client.get("/v2/health/live").json() == {"live": True}
        assert client.get("/v2/health/ready").json() == {"ready": True}
        assert client.get("/v2/models/forest/ready").status_code == 200


def test_predict_equals_the_models_own_predictions(
    forest_dir: Path, forest: Any, data: models.Dataset
) -> None:
    with serve(forest_dir) as client:
        response = client.post("/predict", json={"instances": data.rows})
    assert response.status_code == 200
    expected = models.expected(forest, data.rows, data.features.columns)
    assert response.json()["predictions"] == expected
    assert response.headers["x-model-version"] == "local"  # which version answered


def test_predict_accepts_records_keyed_by_feature_name(
    forest_dir: Path, forest: Any, data: models.Dataset
) -> None:
    records = data.features.iloc[:4].to_dict(orient="records")
    with serve(forest_dir) as client:
        response = client.post("/predict", json={"instances": records})
    assert response.status_code == 200
    expected = forest.predict(data.features.iloc[:4]).tolist()
    assert response.json()["predictions"] == expected


def test_v2_infer_returns_predictions_and_probabilities(
    forest_dir: Path, forest: Any, data: models.Dataset
) -> None:
    rows = data.rows[:3]
    body = {
        "id": "req-1",
        "inputs": [{"name": "x", "shape": [3, 30], "datatype": "FP64", "data": rows}],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    }
    with serve(forest_dir) as client:
        response = client.post("/v2/models/forest/infer", json=body)
    assert response.status_code == 200
    payload = response.json()
    assert payload["id"] == "req-1"
    assert payload["model_name"] == "forest"
    assert response.headers["x-model-version"] == payload["model_version"]
    predict, proba = payload["outputs"]
    assert predict["name"] == "predict"
    assert predict["shape"] == [3]
    assert predict["data"] == models.expected(forest, rows, data.features.columns)
    assert proba["shape"] == [3, 2]
    frame = data.features.iloc[:3]
    assert np.allclose(np.reshape(proba["data"], (3, 2)), forest.predict_proba(frame), atol=0)


def test_v2_infer_takes_one_input_per_feature(
    forest_dir: Path, forest: Any, data: models.Dataset
) -> None:
    frame = data.features.iloc[:2]
    inputs = [
        {"name": str(col), "shape": [2], "datatype": "FP64", "data": frame[col].tolist()}
        for col in frame.columns
    ]
    with serve(forest_dir) as client:
        response = client.post("/v2/models/forest/infer", json={"inputs": inputs})
    assert response.status_code == 200
    assert response.json()["outputs"][0]["data"] == forest.predict(frame).tolist()


def test_v2_model_metadata_describes_the_signature(forest_dir: Path) -> None:
    with serve(forest_dir) as client:
        meta = client.get("/v2/models/forest").json()
        server = client.get("/v2").json()
    assert meta["name"] == "forest"
    assert meta["platform"] == "mlflow-sklearn"
    assert len(meta["parameters"]["example_instances"]) == 3
    assert len(meta["parameters"]["example_instances"][0]) == 30
    assert len(meta["inputs"]) == 30
    assert meta["inputs"][0] == {"name": "mean radius", "datatype": "FP64", "shape": [-1, 1]}
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    assert server["name"] == "mlrollout-model-server"


def test_metrics_count_inference_but_not_health(forest_dir: Path, data: models.Dataset) -> None:
    with serve(forest_dir) as client:
        client.get("/v2/health/ready")
        client.get("/v2/health/live")
        client.post("/predict", json={"instances": data.rows[:2]})
        client.post("/predict", json={"instances": [[1.0]]})
        text = client.get("/metrics").text
    assert 'requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert 'requests_total{method="POST",route="/predict",status="400"} 1.0' in text
    assert "/v2/health" not in text
    assert "mlrollout_model_server_inference_rows_total 2.0" in text
    assert 'model_info{fast_path="forest-packed",flavor="sklearn",name="forest"' in text
    assert "mlrollout_model_server_model_ready 1.0" in text
    assert "mlrollout_model_server_model_load_seconds " in text


@pytest.mark.parametrize("flavor_dir", ["logistic_dir", "xgb_dir"])
def test_other_native_flavours_serve_their_own_predictions(
    flavor_dir: str, request: pytest.FixtureRequest, data: models.Dataset
) -> None:
    model = request.getfixturevalue(flavor_dir.removesuffix("_dir"))
    with serve(request.getfixturevalue(flavor_dir)) as client:
        response = client.post("/predict", json={"instances": data.rows})
    assert response.status_code == 200
    expected = models.expected(model, data.rows, data.features.columns)
    assert response.json()["predictions"] == expected


def test_pyfunc_models_serve_through_pyfunc_when_trusted(flaky_dir: Path) -> None:
    with serve(flaky_dir, trust_model_code=True) as client:
        response = client.post("/predict", json={"instances": [[1.5, 0.0], [2.0, 1.0]]})
    assert response.status_code == 200
    assert response.json()["predictions"] == [3.0, 4.0]


def test_the_openapi_document_describes_the_inference_bodies(forest_dir: Path) -> None:
    """The handlers read raw bytes; their bodies are declared for clients and the fuzzer."""
    with serve(forest_dir) as client:
        document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for path, model in (("/predict", "PredictRequest"),
                        ("/v2/models/{model_name}/infer", "InferenceRequest")):  # fmt: skip
        body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{model}"}
        assert model in schemas
    assert schemas["PredictRequest"]["required"] == ["instances"]
    assert "RequestInput" in schemas  # the nested models are components, not dangling $defs
    [name] = document["paths"]["/v2/models/{model_name}/infer"]["post"]["parameters"]
    assert name["schema"] == {"type": "string", "enum": ["forest"]}
