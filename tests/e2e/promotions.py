"""ModelPromotion helpers for the e2e tests: apply with kubectl, read status, wait for a phase."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from promotion_operator.spec import GROUP, PLURAL, VERSION
from promotion_operator.status import CONCLUDED

from .cluster import Cluster, describe_namespace, wait_for

# Measured durations, printed in the test session's summary.
TIMINGS: dict[str, float] = {}


def promotion(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelPromotion",
        "metadata": {"name": name},
        "spec": spec,
    }


def base_spec(model: str, version: str, image: str, tracking_uri: str) -> dict[str, Any]:
    """A small promotion: one replica, quick verification, gates every demo model passes."""
    return {
        "model": {"name": model, "version": version},
        "mlflow": {"trackingUri": tracking_uri},
        "gates": [
            {"metric": "accuracy", "op": ">=", "threshold": 0.85},
            {"metric": "latency_p95_ms", "op": "<=", "threshold": 1000},
        ],
        "serving": {
            "image": image,
            "imagePullPolicy": "Never",
            "replicas": 1,
            "resources": {"requests": {"cpu": "50m", "memory": "200Mi"}},
        },
        "rollout": {
            "progressDeadlineSeconds": 120,
            "verification": {
                "durationSeconds": 6,
                "intervalSeconds": 2,
                "smokeLoadRps": 5,
                "gates": [
                    {"metric": "error_rate", "op": "<=", "threshold": 0.05},
                    {"metric": "latency_p95_ms", "op": "<=", "threshold": 2000},
                ],
            },
        },
        "promotion": {"alias": "production"},
    }


def apply(cluster: Cluster, namespace: str, body: dict[str, Any]) -> None:
    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(body))
    assert result.returncode == 0, result.stderr


def get(cluster: Cluster, namespace: str, name: str) -> dict[str, Any]:
    obj = cluster.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    assert isinstance(obj, dict)
    return obj


def wait_phase(
    cluster: Cluster, namespace: str, name: str, phase: str, timeout_s: float,
    operator_log: Callable[[], str] = lambda: "",
) -> dict[str, Any]:  # fmt: skip
    """Wait for ``phase``; a different concluded phase fails at once with the status."""
    concluded = {p.value for p in CONCLUDED} - {phase}

    def probe() -> dict[str, Any] | None:
        obj = get(cluster, namespace, name)
        status = obj.get("status") or {}
        candidate = (status.get("candidate") or {}).get("version")
        current = candidate == obj["spec"]["model"].get("version", candidate)
        if current and status.get("phase") in concluded:
            raise AssertionError(
                f"{name} reached {status['phase']} instead of {phase}: {status.get('message')}\n"
                f"{json.dumps(status, indent=2)}\n--- operator log ---\n{operator_log()}"
            )
        return obj if current and status.get("phase") == phase else None

    return wait_for(
        f"ModelPromotion {namespace}/{name} to reach {phase}", probe, timeout_s,
        lambda: f"{describe_namespace(cluster, namespace)}\n--- operator log ---\n{operator_log()}",
    )  # fmt: skip


def events(cluster: Cluster, namespace: str, name: str) -> list[tuple[str, str]]:
    """(type, reason) of the Events about the ModelPromotion, oldest first."""
    selector = f"involvedObject.name={name},involvedObject.kind=ModelPromotion"
    listed = cluster.json(cluster.core.list_namespaced_event(namespace, field_selector=selector))
    items = sorted(listed["items"], key=lambda e: e["metadata"]["creationTimestamp"])
    return [(e["type"], e["reason"]) for e in items]


def service_url(cluster: Cluster, namespace: str, name: str) -> str:
    """The Service's ClusterIP, reachable from this machine on the local cluster (kube-proxy
    programs the host's own OUTPUT chain). Other clusters need a port-forward."""
    service = cluster.json(cluster.core.read_namespaced_service(name, namespace))
    return f"http://{service['spec']['clusterIP']}:80"


@dataclass
class Poller:
    """A client polling the Service continuously, counting every failed request."""

    url: str
    rows: list[list[float]]
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Poller:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as http:
            while not self._stop.is_set():
                try:
                    response = http.post(f"{self.url}/predict", json={"instances": self.rows})
                    if response.status_code == 200:
                        self.ok += 1
                    else:
                        self.failures.append(f"{response.status_code}: {response.text[:200]}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.1)
