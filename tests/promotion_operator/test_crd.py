"""The CRD's schema and the operator's spec and status models describe the same resource.

A field the schema lacks is pruned by the API server (from the spec before the operator sees
it, from the status when the operator writes it); a field the models lack is silently ignored.
Both are bugs that only show on a real cluster, so the two descriptions are compared here,
field by field.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from promotion_operator.spec import GROUP, KIND, PLURAL, VERSION, ModelPromotionSpec, Op, parse_spec
from promotion_operator.status import MeasurementPhase, PromotionPhase, PromotionStatus

ROOT = Path(__file__).resolve().parents[2]
CRD_PATH = ROOT / "k8s" / "crds" / "modelpromotions.mlrollout.dev.yaml"
SAMPLES = sorted((ROOT / "k8s" / "samples").glob("*.yaml"))


def _crd() -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
    return crd


def _schema_of(part: str) -> dict[str, Any]:
    version = _crd()["spec"]["versions"][0]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"][part]
    return schema


def _spec_schema() -> dict[str, Any]:
    return _schema_of("spec")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside `X`, `X | None`, `list[X]` or `dict[str, list[X]]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (
        typing.Union,
        list,
        dict,
    ):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _mismatches(model: type[BaseModel], schema: dict[str, Any], path: str) -> list[str]:
    problems: list[str] = []
    while "additionalProperties" in schema or schema.get("type") == "array":  # maps and lists
        schema = schema.get("additionalProperties") or schema["items"]
    schema_props: dict[str, Any] = schema.get("properties", {})
    source = f"{model.__module__.rsplit('.', 1)[-1]}.py"
    model_fields = {field.alias or name: field for name, field in model.model_fields.items()}
    for alias in sorted(set(model_fields) - set(schema_props)):
        problems.append(
            f"{path}.{alias}: in {source} but not in the CRD (the API server prunes it)"
        )
    for alias in sorted(set(schema_props) - set(model_fields)):
        problems.append(f"{path}.{alias}: in the CRD but not in {source} (the operator ignores it)")
    for alias, field in model_fields.items():
        nested = _model_of(field.annotation)
        if nested is not None and alias in schema_props:
            problems += _mismatches(nested, schema_props[alias], f"{path}.{alias}")
    return problems


def test_crd_names_match_the_operator() -> None:
    crd = _crd()
    assert crd["metadata"]["name"] == f"{PLURAL}.{GROUP}"
    assert crd["spec"]["group"] == GROUP
    assert crd["spec"]["names"]["kind"] == KIND
    assert [v["name"] for v in crd["spec"]["versions"]] == [VERSION]
    assert "status" in crd["spec"]["versions"][0]["subresources"]


def test_every_spec_field_is_in_the_schema_and_back() -> None:
    assert _mismatches(ModelPromotionSpec, _spec_schema(), "spec") == []


def test_every_status_field_is_in_the_schema_and_back() -> None:
    assert _mismatches(PromotionStatus, _schema_of("status"), "status") == []


def test_status_enums_and_required_fields_agree_with_the_models() -> None:
    """An enum value the schema lacks makes the API server refuse the operator's status patch."""
    status = _schema_of("status")["properties"]
    phases = sorted(p.value for p in PromotionPhase)
    assert sorted(status["phase"]["enum"]) == phases
    assert sorted(status["history"]["items"]["properties"]["outcome"]["enum"]) == phases
    measurement_phases = sorted(p.value for p in MeasurementPhase)
    assert sorted(status["gates"]["items"]["properties"]["phase"]["enum"]) == measurement_phases
    assert "x-kubernetes-preserve-unknown-fields" not in _schema_of("status")

    def required(schema: dict[str, Any], model: type[BaseModel]) -> None:
        schema = schema.get("items", schema)
        wanted = sorted(f.alias or n for n, f in model.model_fields.items() if f.is_required())
        assert sorted(schema.get("required", [])) == wanted, model.__name__

    for field_name, field in PromotionStatus.model_fields.items():
        nested = _model_of(field.annotation)
        if nested is not None:
            required(status[field.alias or field_name], nested)


def test_schema_defaults_agree_with_the_models() -> None:
    """A default in the CRD and a different one in spec.py would make behaviour depend on
    whether the object came through the API server."""
    schema = _spec_schema()["properties"]
    minimal = parse_spec(
        {
            "model": {"name": "m", "version": "1"},
            "mlflow": {"trackingUri": "http://mlflow:5000"},
            "serving": {"image": "i", "autoscaling": {}},
        }
    )
    serving = schema["serving"]["properties"]
    assert serving["replicas"]["default"] == minimal.serving.replicas
    assert serving["port"]["default"] == minimal.serving.port
    assert serving["imagePullPolicy"]["default"] == minimal.serving.image_pull_policy
    autoscaling = serving["autoscaling"]["properties"]
    assert minimal.serving.autoscaling is not None
    assert autoscaling["minReplicas"]["default"] == minimal.serving.autoscaling.min_replicas
    assert autoscaling["maxReplicas"]["default"] == minimal.serving.autoscaling.max_replicas
    rollout = schema["rollout"]["properties"]
    assert rollout["progressDeadlineSeconds"]["default"] == (
        minimal.rollout.progress_deadline_seconds
    )
    verification = rollout["verification"]["properties"]
    assert (
        verification["durationSeconds"]["default"] == minimal.rollout.verification.duration_seconds
    )
    assert (
        verification["intervalSeconds"]["default"] == minimal.rollout.verification.interval_seconds
    )
    assert verification["smokeLoadRps"]["default"] == minimal.rollout.verification.smoke_load_rps
    assert schema["promotion"]["properties"]["alias"]["default"] == minimal.promotion.alias
    gate = schema["gates"]["items"]["properties"]
    assert gate["onNoData"]["default"] == "Fail"
    assert sorted(gate["op"]["enum"]) == sorted(op.value for op in Op)


def test_every_cross_field_rule_names_its_field() -> None:
    """The CEL messages are what `kubectl apply` prints; each must point at a field."""
    messages: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            messages.extend(rule["message"] for rule in node.get("x-kubernetes-validations", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(_spec_schema())
    assert len(messages) >= 5
    for message in messages:
        assert any(word in message for word in ("spec.", "threshold", "tolerance")), message


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_samples_parse(sample: Path) -> None:
    for document in yaml.safe_load_all(sample.read_text()):
        if document and document.get("kind") == KIND:
            assert document["apiVersion"] == f"{GROUP}/{VERSION}"
            parse_spec(document["spec"])


def test_there_are_samples() -> None:
    assert len(SAMPLES) >= 2
