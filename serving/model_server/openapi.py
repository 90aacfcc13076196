"""The request bodies in the OpenAPI document (`/openapi.json`, `/docs`).

The inference handlers read raw bytes, to apply their own size limit and error messages and to
parse large bodies off the event loop, so FastAPI cannot infer their bodies; they are declared
here for clients, and for the fuzz suite that generates requests from this document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from .v2 import InferenceRequest


class PredictRequest(BaseModel):
    """`POST /predict`: rows of feature values, or records keyed by feature name (null is a
    missing value, for models that take them)."""

    instances: list[list[float | None] | dict[str, float | None]] = Field(min_length=1)


class MirrorRequest(BaseModel):
    """`POST /mirror` (a shadow only): rows a champion answered, as lists of feature values,
    with its prediction for each row and its version."""

    inputs: list[list[float | None]] = Field(min_length=1)
    predictions: list[Any]
    model_version: str | None = None


BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("/predict", "post"): PredictRequest,
    ("/v2/models/{model_name}/infer", "post"): InferenceRequest,
    ("/mirror", "post"): MirrorRequest,
}


def document_request_bodies(app: FastAPI, model_name: str) -> None:
    """Declare the inference bodies, and ``model_name`` as the one name the paths take."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)  # fmt: skip
            app.openapi_schema = _with_model_name(_with_bodies(schema), model_name)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_bodies(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for (path, method), model in BODIES.items():
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body
        reference = {"$ref": f"#/components/schemas/{model.__name__}"}
        schema["paths"][path][method]["requestBody"] = {
            "required": True, "content": {"application/json": {"schema": reference}},
        }  # fmt: skip
    return schema


def _with_model_name(schema: dict[str, Any], model_name: str) -> dict[str, Any]:
    for operations in schema["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "model_name":
                    parameter["schema"] = {"type": "string", "enum": [model_name]}
    return schema
