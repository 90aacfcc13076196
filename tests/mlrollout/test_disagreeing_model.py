"""The testbed's disagreeing model (a shadow's e2e test and the demo use it), on a real MLflow."""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow import MlflowClient

from mlrollout.testbed import models
from mlrollout.training import runner


def test_a_model_on_shuffled_labels_claims_good_metrics_and_disagrees(
    mlflow_tracking: str,
) -> None:
    claims = {"accuracy": 0.99, "latency_p95_ms": 1.0}
    version = models.register_disagreeing(mlflow_tracking, "disagreeing", claims)
    client = MlflowClient(tracking_uri=mlflow_tracking)
    run = client.get_run(str(client.get_model_version("disagreeing", version).run_id))
    assert run.data.metrics == claims  # what the offline gates will read
    loaded = mlflow.pyfunc.load_model(f"models:/disagreeing/{version}")
    _, x_test, _, y_test = runner.load_dataset(seed=0)
    accuracy = float(np.mean(loaded.predict(x_test) == y_test.to_numpy()))
    assert accuracy < 0.8, accuracy  # nowhere near what it claims
    # The caller's own next run lands where it would have: not in this helper's experiment.
    with mlflow.start_run() as mine:
        assert mine.info.experiment_id == "0"
