"""Bad requests get a 4xx whose message names the problem; never a 500 or a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from . import models
from .conftest import serve

ROW = [1.0] * 30


@pytest.fixture(scope="module")
def client(logistic_dir: Path) -> Any:
    # LogisticRegression does not accept missing values, so NaN must be refused.
    with serve(logistic_dir, max_request_bytes=4096) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"instances": [[1.0, 2.0]]}, 400, "instances[0] has 2 values; the model takes 30"),
        ({"instances": [ROW, ROW[:29]]}, 400, "instances[1] has 29 values"),
        ({"instances": [[*ROW[:29], "x"]]}, 400, "instances[0][29]: expected a number, got str"),
        ({"instances": [[*ROW[:29], None]]}, 400, "instances[0][29]: missing value"),
        ({"instances": []}, 400, "empty batch"),
        ({"instances": "rows"}, 400, '"instances" must be a list'),
        ({"rows": [ROW]}, 400, 'body must be a JSON object with an "instances" list'),
        ({"instances": [5.0]}, 400, "instances[0] must be a list of feature values"),
        ({"instances": [{"mean radius": 1.0}]}, 400, "lacks feature 'mean texture'"),
        ({"instances": [[[1.0]] * 30]}, 400, "instances"),
    ],
)
def test_predict_rejects(client: Any, body: Any, status: int, message: str) -> None:
    response = client.post("/predict", json=body)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_nan_and_infinity_literals_are_named(client: Any) -> None:
    nan_row = "[" + ",".join(["1.0"] * 29 + ["NaN"]) + "]"
    inf_row = "[" + ",".join(["Infinity"] + ["1.0"] * 29) + "]"
    nan = client.post("/predict", content=f'{{"instances": [{nan_row}]}}')
    inf = client.post("/predict", content=f'{{"instances": [{inf_row}]}}')
    assert nan.status_code == 400
    assert "instances[0][29]: missing value" in nan.json()["error"]
    assert inf.status_code == 400
    assert "instances[0][0]: infinite values" in inf.json()["error"]


def test_deeply_nested_json_is_a_400_not_a_crash(client: Any) -> None:
    depth = 1500  # beyond orjson's limit (1024) and Python's recursion limit (1000)
    body = '{"instances": ' + "[" * depth + "]" * depth + "}"
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.json()["error"]
    assert client.get("/v2/health/live").status_code == 200


def test_non_json_body(client: Any) -> None:
    response = client.post("/predict", content=b"{not json")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    empty = client.post("/predict", content=b"")
    assert empty.status_code == 400
    assert "empty request body" in empty.json()["error"]


def test_oversized_body_is_refused_before_parsing(client: Any) -> None:
    response = client.post("/predict", json={"instances": [ROW] * 200})
    assert response.status_code == 413
    assert "exceeds the 4096-byte limit" in response.json()["error"]


def test_unknown_model_name(client: Any) -> None:
    for response in (
        client.post("/v2/models/nope/infer", json={"inputs": []}),
        client.get("/v2/models/nope"),
        client.get("/v2/models/nope/ready"),
    ):
        assert response.status_code == 404
        assert "model 'nope' is not served here" in response.json()["error"]


@pytest.mark.parametrize(
    ("request_input", "message"),
    [
        ({"name": "x", "shape": [1, 30], "datatype": "FP64", "data": ROW[:10]}, "needs 30 values"),
        ({"name": "x", "shape": [1, 30], "datatype": "BYTES", "data": ROW}, "is not numeric"),
        ({"name": "x", "shape": [1, 29], "datatype": "FP64", "data": ROW[:29]}, "29 features"),
        ({"name": "x", "shape": [0, 30], "datatype": "FP64", "data": []}, "empty batch"),
        ({"name": "x", "datatype": "FP64", "data": ROW}, "inputs.0.shape: Field required"),
    ],
)
def test_v2_infer_rejects(client: Any, request_input: Any, message: str) -> None:
    response = client.post("/v2/models/logistic/infer", json={"inputs": [request_input]})
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_v2_unknown_output(client: Any) -> None:
    body = {
        "inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": ROW}],
        "outputs": [{"name": "embedding"}],
    }
    response = client.post("/v2/models/logistic/infer", json=body)
    assert response.status_code == 400
    assert "unknown output 'embedding'" in response.json()["error"]


def test_missing_values_pass_where_the_model_takes_them(
    forest_dir: Path, forest: Any, data: models.Dataset
) -> None:
    row = [*data.rows[0][:29], None]
    with serve(forest_dir) as forest_client:
        response = forest_client.post("/predict", json={"instances": [row]})
    assert response.status_code == 200
    assert response.json()["predictions"] == models.expected(
        forest, [[*data.rows[0][:29], float("nan")]], data.features.columns
    )


def test_model_errors_are_500_without_internals(flaky_dir: Path) -> None:
    with serve(flaky_dir, trust_model_code=True) as flaky:
        response = flaky.post("/predict", json={"instances": [[999.0, 0.0]]})
        healthy = flaky.post("/predict", json={"instances": [[1.0, 0.0]]})
    assert response.status_code == 500
    assert response.json() == {"error": "model error: RuntimeError"}
    assert "passwd" not in response.text
    assert healthy.status_code == 200
