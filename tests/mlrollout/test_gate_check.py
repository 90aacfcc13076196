"""`mlrollout gates check` logic against a real MLflow server: the operator's own verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from mlrollout import gate_check
from mlrollout.tracking_server import free_port

pytestmark = pytest.mark.integration


def register(name: str, metrics: dict[str, float]) -> str:
    import mlflow
    from mlflow import MlflowClient

    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics)
    client = MlflowClient()
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    made = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
    return str(made.version)


def promotion_file(
    tmp_path: Path, tracking_uri: str, model: dict[str, str], gates: Sequence[object]
) -> Path:
    doc = {
        "apiVersion": "mlrollout.dev/v1alpha1",
        "kind": "ModelPromotion",
        "metadata": {"name": "churn"},
        "spec": {
            "model": model,
            "mlflow": {"trackingUri": tracking_uri},
            "gates": gates,
            "serving": {"image": "localhost/mlrollout-model-server:test"},
        },
    }
    path = tmp_path / "promotion.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_passing_and_failing_gates_with_a_relative_baseline(
    mlflow_tracking: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    champion = register("gate-check", {"accuracy": 0.95, "latency_p95_ms": 4.0})
    MlflowClient().set_registered_model_alias("gate-check", "champion", champion)
    candidate = register("gate-check", {"accuracy": 0.93, "latency_p95_ms": 3.0})
    gates = [
        {"metric": "latency_p95_ms", "op": "<=", "threshold": 50},
        {"metric": "accuracy", "op": ">=", "baseline": "champion", "tolerance": -0.005},
    ]
    path = promotion_file(
        tmp_path, mlflow_tracking, {"name": "gate-check", "version": candidate}, gates
    )
    checked = gate_check.check_file(path, None)
    assert gate_check.exit_code(checked) == gate_check.EXIT_FAILED
    rows = gate_check.table_rows(checked[0])
    assert [r["phase"] for r in rows] == ["Successful", "Failed"]
    assert rows[1]["baselineValue"] == 0.95
    assert rows[1]["threshold"] == pytest.approx(0.945)
    text = gate_check.render(checked)
    assert "gate accuracy failed: 0.93 < 0.945" in text
    assert f"vs champion=v{champion}" in text

    relaxed = [{"metric": "accuracy", "op": ">=", "baseline": "champion", "tolerance": -0.05}]
    path = promotion_file(
        tmp_path, mlflow_tracking, {"name": "gate-check", "alias": "champion"}, relaxed
    )
    assert gate_check.exit_code(gate_check.check_file(path, None)) == gate_check.EXIT_PASSED


def test_unreachable_mlflow_is_its_own_exit_code(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    path = promotion_file(tmp_path, uri, {"name": "m", "version": "1"}, [])
    with pytest.raises(gate_check.CheckError) as caught:
        gate_check.check_file(path, None, timeout_s=2)
    assert caught.value.code == gate_check.EXIT_UNAVAILABLE
    assert "cannot reach MLflow" in str(caught.value)


def test_invalid_file_names_the_field(tmp_path: Path) -> None:
    path = promotion_file(tmp_path, "http://x", {"name": "m", "version": "1", "alias": "a"}, [])
    with pytest.raises(gate_check.CheckError) as caught:
        gate_check.load_promotions(path)
    assert caught.value.code == gate_check.EXIT_USAGE
    assert "spec.model: Value error, spec.model: set exactly one of version or alias" in str(
        caught.value
    )


def test_live_gates_are_listed_with_what_they_lack() -> None:
    from mlrollout.gate_check import live_gate_notes
    from promotion_operator.spec import parse_spec

    spec = parse_spec({
        "model": {"name": "m", "version": "1"},
        "mlflow": {"trackingUri": "http://mlflow:5000"},
        "serving": {"image": "i:1"},
        "rollout": {"verification": {"gates": [
            {"metric": "memory_limit_ratio", "op": "<=", "threshold": 0.8},
            {"metric": "input_drift_psi_max", "op": "<=", "threshold": 0.2},
        ]}},
    })  # fmt: skip
    notes = "\n".join(live_gate_notes(spec))
    assert (
        "judged live, once rolled out: memory_limit_ratio <= 0.8, input_drift_psi_max <= 0.2"
        in notes
    )
    assert "set spec.serving.resources.limits.memory" in notes
    assert "reference profile" in notes
    spec.serving.resources["limits"] = {"memory": "1Gi"}
    assert "limits.memory" not in "\n".join(live_gate_notes(spec))
    assert "shadow" not in "\n".join(live_gate_notes(spec))
    shadowed = parse_spec({
        "model": {"name": "m", "version": "1"},
        "mlflow": {"trackingUri": "http://mlflow:5000"},
        "serving": {"image": "i:1"},
        "rollout": {"strategy": "shadow", "verification": {"gates": [
            {"metric": "prediction_agreement", "op": ">=", "threshold": 0.95},
        ]}},
    })  # fmt: skip
    assert "prediction_agreement is judged in a shadow" in "\n".join(live_gate_notes(shadowed))
