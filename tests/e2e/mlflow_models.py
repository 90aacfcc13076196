"""The e2e tier's MLflow: a real server on this machine, the demo models trained into it once,
and per-test registered models whose versions reuse those runs (so each test owns its aliases).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from mlrollout import tracking_server

BASE_MODEL = "e2e-demo"


@dataclass
class HostMlflow:
    config: tracking_server.TrackingServerConfig
    log_path: Path
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # algorithm -> summary run
    _process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)

    def start(self) -> None:
        self._process = tracking_server.start(self.config, self.log_path)

    def stop(self) -> None:
        if self._process is not None:
            tracking_server.stop(self._process)
            self._process = None

    def train_demo(self) -> None:
        """`mlrollout train --quick-demo` here: three runs, three versions of BASE_MODEL."""
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("mlrollout")), "train", "--quick-demo", "--json",
                "--tracking-uri", self.url, "--registered-model", BASE_MODEL,
            ],
            capture_output=True, text=True, timeout=600, check=False,
            env={**os.environ, "MLFLOW_TRACKING_URI": self.url},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        summary = json.loads(result.stdout)
        self.runs = {run["algorithm"]: run for run in summary["runs"]}

    def register(self, model: str, algorithm: str) -> str:
        """A new version of ``model`` holding the demo model (and metrics) of ``algorithm``."""
        self._ensure(model)
        source = f"models:/{BASE_MODEL}/{self.runs[algorithm]['version']}"
        # MLflow resolves a registered-model source to the same run and logged model.
        version = self.client.create_model_version(model, source)
        return str(version.version)

    def register_unloadable(self, model: str, algorithm: str) -> str:
        """A version whose run has good metrics but whose model artifacts do not exist."""
        run_id = self.runs[algorithm]["run_id"]
        self._ensure(model)
        source = f"{self.client.get_run(run_id).info.artifact_uri}/no-such-model"
        version = self.client.create_model_version(model, source, run_id=run_id)
        return str(version.version)

    def alias(self, model: str, alias: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(model, alias).version)
        except Exception:  # MLflow raises a generic error for a missing alias
            return None

    def _ensure(self, model: str) -> None:
        if not self.client.search_registered_models(filter_string=f"name = '{model}'"):
            self.client.create_registered_model(model)
