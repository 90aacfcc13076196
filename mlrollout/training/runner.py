"""Train each algorithm, measure it, log it, register it; pick the champion."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import measure, memory, profile
from .algorithms import Algorithm
from .slo import Slo
from .tracking import Logged, log_and_register, model_size_bytes, save_locally

DATASET = "sklearn.datasets.load_breast_cancer"


@dataclass(frozen=True)
class Options:
    algorithms: list[Algorithm]
    quick: bool
    seed: int
    registered_model: str
    experiment: str
    slo: Slo


@dataclass
class Result:
    algorithm: str
    run_id: str
    version: str
    metrics: dict[str, float]
    slo: dict[str, bool]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def compliant(self) -> bool:
        return all(self.slo.values())


def load_dataset(seed: int) -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    split: tuple[Any, Any, Any, Any] = tuple(
        train_test_split(features, target, test_size=0.25, random_state=seed, stratify=target)
    )
    return split


def train_all(options: Options, progress: Callable[[str], None]) -> tuple[str, list[Result]]:
    """The experiment's id and one result per algorithm, each already registered."""
    import mlflow

    experiment = mlflow.set_experiment(options.experiment)
    x_train, x_test, y_train, y_test = load_dataset(options.seed)
    results: list[Result] = []
    total = len(options.algorithms)
    for index, algorithm in enumerate(options.algorithms, start=1):
        progress(f"[{index}/{total}] training {algorithm.name}")
        split = (x_train, x_test, y_train, y_test)
        results.append(_train_one(algorithm, options, experiment.experiment_id, *split))
        progress(f"[{index}/{total}] {algorithm.name}: registered as version {results[-1].version}")
    return experiment.experiment_id, results


def _train_one(
    algorithm: Algorithm, options: Options, experiment_id: str,
    x_train: Any, x_test: Any, y_train: Any, y_test: Any,
) -> Result:  # fmt: skip
    hyper = algorithm.quick if options.quick else algorithm.full
    model = algorithm.build(hyper, options.seed)
    started = time.perf_counter()
    model.fit(x_train, y_train)
    training_time = time.perf_counter() - started
    metrics = measure.quality(model, x_test, y_test)
    calls = 200 if options.quick else 1000
    metrics.update(measure.latency_summary(measure.single_row_latency_ms(model, x_test, calls)))
    metrics["training_time_s"] = training_time
    metrics["model_size_bytes"] = float(model_size_bytes(model, algorithm))
    with tempfile.TemporaryDirectory(prefix="mlrollout-memory-") as scratch:
        saved = save_locally(algorithm, model, Path(scratch) / "model")
        metrics.update(memory.serving_memory(saved, x_test, options.seed))
    slo = options.slo.check(metrics)
    metrics["slo_compliant"] = 1.0 if all(slo.values()) else 0.0
    params = {
        "algorithm": algorithm.name, "dataset": DATASET, "n_samples": len(x_train) + len(x_test),
        "n_features": x_train.shape[1], "seed": options.seed,
        "mode": "quick" if options.quick else "full", **hyper,
    }  # fmt: skip
    tags = {"mlrollout.algorithm": algorithm.name}
    tags.update({f"slo.{name}": "met" if ok else "missed" for name, ok in slo.items()})
    logged: Logged = log_and_register(
        algorithm=algorithm, model=model, example=x_test.iloc[:5], params=params,
        metrics=metrics, tags=tags, experiment_id=experiment_id,
        registered_model=options.registered_model,
        reference_profile=profile.build_reference(x_train, model.predict(x_train)),
    )  # fmt: skip
    return Result(algorithm.name, logged.run_id, logged.version, metrics, slo, params)


def champion(results: list[Result]) -> Result | None:
    """Best accuracy among SLO-compliant runs; ties go to the lower p95 latency."""
    compliant = [r for r in results if r.compliant]
    if not compliant:
        return None
    return max(compliant, key=lambda r: (r.metrics["accuracy"], -r.metrics["latency_p95_ms"]))
