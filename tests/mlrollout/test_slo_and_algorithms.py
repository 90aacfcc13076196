"""Pure parts of the training demo: SLO parsing and checks, algorithm choice, champion."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrollout.training.algorithms import ALGORITHMS, pick
from mlrollout.training.measure import latency_summary
from mlrollout.training.runner import Result, champion
from mlrollout.training.slo import Slo, SloError, load_slo

METRICS = {"accuracy": 0.95, "latency_p95_ms": 2.0, "model_size_bytes": 1000.0}


def test_default_slos_and_flag_overrides(tmp_path: Path) -> None:
    assert load_slo(None) == Slo()
    path = tmp_path / "slo.yaml"
    path.write_text("min_accuracy: 0.97\nmax_latency_p95_ms: 5\n")
    slo = load_slo(path, max_latency_p95_ms=1.0, min_accuracy=None)
    assert slo.min_accuracy == 0.97  # from the file
    assert slo.max_latency_p95_ms == 1.0  # the flag wins
    assert slo.check(METRICS) == {"accuracy": False, "latency_p95": False, "model_size": True}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("min_accurracy: 0.9\n", "invalid SLO 'min_accurracy'"),
        ("min_accuracy: 2\n", "invalid SLO 'min_accuracy'"),
        ("max_latency_p95_ms: fast\n", "invalid SLO 'max_latency_p95_ms'"),
        ("- 1\n- 2\n", "must be a mapping"),
        ("min_accuracy: [\n", "cannot read SLO file"),
    ],
)
def test_invalid_slo_files_name_the_key(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(content)
    with pytest.raises(SloError, match=message.replace("[", r"\[")):
        load_slo(path)


def test_pick_keeps_order_and_refuses_unknown_names() -> None:
    assert [a.name for a in pick(None)] == list(ALGORITHMS)
    assert [a.name for a in pick(["xgboost", "random_forest"])] == ["xgboost", "random_forest"]
    with pytest.raises(ValueError, match="unknown algorithm 'svm'; choose from random_forest"):
        pick(["random_forest", "svm"])


def test_latency_percentiles() -> None:
    summary = latency_summary([float(v) for v in range(1, 101)])
    assert summary["latency_p50_ms"] == pytest.approx(50.5)
    assert summary["latency_p95_ms"] == pytest.approx(95.05)


def result(name: str, accuracy: float, p95: float, compliant: bool) -> Result:
    slo = {"accuracy": compliant}
    return Result(name, "r", "1", {"accuracy": accuracy, "latency_p95_ms": p95}, slo)


def test_champion_is_the_most_accurate_compliant_model_then_the_fastest() -> None:
    results = [
        result("a", 0.99, 1.0, compliant=False),
        result("b", 0.95, 3.0, compliant=True),
        result("c", 0.95, 2.0, compliant=True),
    ]
    best = champion(results)
    assert best is not None
    assert best.algorithm == "c"
    assert champion([result("a", 0.99, 1.0, compliant=False)]) is None
