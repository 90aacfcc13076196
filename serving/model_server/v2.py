"""Open Inference Protocol v2 (KServe / Triton / MLServer) request and response shapes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InvalidInput, describe_validation_errors
from .inputs import V2_NUMERIC, FloatArray, InputSpec, check_values, to_float
from .predictor import Predictor, example_matrix


class RequestInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    shape: list[int] = Field(min_length=1)
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] | None = None


class RequestOutput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str


class InferenceRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None
    parameters: dict[str, Any] | None = None


def parse_request(payload: Any) -> InferenceRequest:
    try:
        return InferenceRequest.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_errors(exc.errors())) from None


def matrix_from_request(request: InferenceRequest, spec: InputSpec) -> FloatArray:
    """One [rows, features] tensor, or one [rows] / [rows, 1] tensor per named feature."""
    for item in request.inputs:
        if item.datatype.upper() not in V2_NUMERIC:
            raise InvalidInput(
                f"input {item.name!r}: datatype {item.datatype} is not numeric; "
                f"this model takes one of {sorted(V2_NUMERIC)}"
            )
    if len(request.inputs) == 1:
        tensor = _tensor(request.inputs[0])
        if tensor.ndim == 1:
            tensor = tensor.reshape(1, -1)
        if tensor.ndim != 2:
            raise InvalidInput(f"input {request.inputs[0].name!r}: shape must be [rows, features]")
        matrix = tensor
    else:
        matrix = _columns(request.inputs, spec)
    if matrix.shape[0] == 0:
        raise InvalidInput("empty batch: the input has zero rows")
    if spec.n_features is not None and matrix.shape[1] != spec.n_features:
        raise InvalidInput(
            f"input has {matrix.shape[1]} features per row; the model takes {spec.n_features}"
        )
    check_values(matrix, spec, "inputs")
    return matrix


def _tensor(item: RequestInput) -> FloatArray:
    flat = to_float(item.data, f"input {item.name!r} data").reshape(-1)
    expected = math.prod(item.shape)
    if any(dim < 0 for dim in item.shape) or flat.size != expected:
        raise InvalidInput(
            f"input {item.name!r}: shape {item.shape} needs {expected} values, got {flat.size}"
        )
    return flat.reshape(item.shape)


def _columns(items: list[RequestInput], spec: InputSpec) -> FloatArray:
    if spec.feature_names is None:
        raise InvalidInput("several inputs need a model with named features; send one tensor")
    by_name = {item.name: item for item in items}
    unknown = [name for name in by_name if name not in spec.feature_names]
    if unknown:
        raise InvalidInput(f"unknown input {unknown[0]!r}; inputs are named after features")
    missing = [name for name in spec.feature_names if name not in by_name]
    if missing:
        raise InvalidInput(f"missing input {missing[0]!r}")
    columns = [_tensor(by_name[name]).reshape(-1) for name in spec.feature_names]
    if len({c.size for c in columns}) != 1:
        raise InvalidInput("inputs have different numbers of rows")
    return np.column_stack(columns)


def datatype_of(array: np.ndarray[Any, Any]) -> str:
    """v2 datatype name of a numpy array's dtype."""
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "b":
        return "BOOL"
    if kind == "f":
        return {2: "FP16", 4: "FP32"}.get(size, "FP64")
    if kind == "i":
        return f"INT{size * 8}"
    if kind == "u":
        return f"UINT{size * 8}"
    return "BYTES"


def output_tensor(name: str, array: np.ndarray[Any, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "shape": list(array.shape),
        "datatype": datatype_of(array),
        "data": array.reshape(-1).tolist(),
    }


_MLFLOW_TO_V2 = {
    "double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32",
    "boolean": "BOOL", "string": "BYTES", "binary": "BYTES", "datetime": "BYTES",
}  # fmt: skip


def _describe(schema: Any, default_name: str) -> list[dict[str, Any]]:
    """v2 tensor metadata from an MLflow schema: one entry per column or tensor."""
    described: list[dict[str, Any]] = []
    for i, item in enumerate(schema.inputs):
        name = getattr(item, "name", None) or f"{default_name}-{i}"
        if hasattr(item, "shape"):  # TensorSpec
            datatype = datatype_of(np.empty(0, dtype=item.type))
            described.append({"name": name, "datatype": datatype, "shape": list(item.shape)})
        else:  # ColSpec
            datatype = _MLFLOW_TO_V2.get(str(getattr(item.type, "name", item.type)), "BYTES")
            described.append({"name": name, "datatype": datatype, "shape": [-1, 1]})
    return described


def model_metadata(predictor: Predictor) -> dict[str, Any]:
    """`GET /v2/models/{name}`: name, version, platform and the signature as v2 tensors."""
    loaded = predictor.loaded
    signature = loaded.mlflow_model.signature
    inputs: list[dict[str, Any]]
    if signature is not None and signature.inputs is not None:
        inputs = _describe(signature.inputs, "input")
    else:
        width = predictor.spec.n_features or -1
        inputs = [{"name": "input-0", "datatype": "FP64", "shape": [-1, width]}]
    predicted = "FP64"
    if signature is not None and signature.outputs is not None:
        predicted = _describe(signature.outputs, "output")[0]["datatype"]
    outputs = [{"name": "predict", "datatype": predicted, "shape": [-1]}]
    if "predict_proba" in predictor.outputs:
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, -1]})
    return {
        "name": loaded.source.name,
        "versions": [loaded.source.version],
        "platform": f"mlflow-{loaded.flavor}",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {
            "model_uri": loaded.source.uri,
            "fast_path": predictor.fast_path,
            # Rows a client (the operator's smoke load) can send as they are.
            "example_instances": example_matrix(predictor)[:3].tolist(),
        },
    }
