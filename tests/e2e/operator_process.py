"""The operator as a real process (`python -m promotion_operator`) watching one test namespace.

A process, not KopfRunner's thread, so a test can kill it with SIGKILL mid-rollout and start
another, as a node failure would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mlrollout.tracking_server import free_port

from .cluster import Cluster


@dataclass
class OperatorProcess:
    cluster: Cluster
    namespace: str
    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = None
    metrics_port: int = 0
    liveness_port: int = 0

    def start(self) -> None:
        self.metrics_port, self.liveness_port = free_port(), free_port()
        env = {
            **os.environ,
            "KUBECONFIG": str(self.cluster.kubeconfig),
            "MLROLLOUT_OPERATOR_NAMESPACES": json.dumps([self.namespace]),
            "MLROLLOUT_OPERATOR_RECONCILE_INTERVAL_SECONDS": "2",
            "MLROLLOUT_OPERATOR_ALIAS_POLL_SECONDS": "3",
            "MLROLLOUT_OPERATOR_MLFLOW_TIMEOUT_SECONDS": "3",
            "MLROLLOUT_OPERATOR_METRICS_PORT": str(self.metrics_port),
            "MLROLLOUT_OPERATOR_LIVENESS_PORT": str(self.liveness_port),
            # Outside the cluster, pods answer through the API server's proxy (any provider).
            "MLROLLOUT_OPERATOR_POD_PROXY_URL": self.cluster.proxy_url,
            **self.extra_env,
        }
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "promotion_operator"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no last status write."""
        if self._process is not None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)
            self._process = None

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._process = None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no operator log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
