"""The e2e tier's MLflow: a real server on this machine, the demo models trained in it once,
and per-test registered models whose versions reuse those runs (so each test owns its aliases).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from mlrollout import tracking_server
from mlrollout.testbed import models

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
        self.runs = models.train_demo(self.url, BASE_MODEL)

    def register(self, model: str, algorithm: str) -> str:
        """A new version of ``model`` holding the demo model (and metrics) of ``algorithm``."""
        return models.register_copy(self.url, model, BASE_MODEL, self.runs[algorithm]["version"])

    def register_unloadable(self, model: str, algorithm: str) -> str:
        """A version whose run has good metrics but whose model artifacts do not exist."""
        return models.register_unloadable(self.url, model, self.runs[algorithm]["run_id"])

    def alias(self, model: str, alias: str) -> str | None:
        return models.alias_version(self.url, model, alias)
