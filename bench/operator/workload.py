"""The operator bench's world: a local MLflow with N registered models, the operator as a real
process watching one namespace of the real cluster, and N ModelPromotions applied at once."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, watch

from bench import processes
from bench.operator import fake_nodes
from mlrollout import tracking_server
from mlrollout.testbed import models
from mlrollout.testbed.promotions import promotion, promotion_spec
from promotion_operator.spec import GROUP, PLURAL, VERSION
from promotion_operator.status import read_status

BASE_MODEL = "bench-demo"
# A gate no model meets: the verdict (Rejected) comes from the offline gates alone.
FAILING_GATE = [{"metric": "accuracy", "op": ">=", "threshold": 2.0}]


@contextlib.contextmanager
def local_mlflow(root: Path, workers: int) -> Iterator[tuple[str, Path, dict[str, Any], int]]:
    """A real MLflow server on loopback with the quick demo trained: (url, log, runs, pid)."""
    config = tracking_server.TrackingServerConfig(
        store_dir=root / "mlflow", port=tracking_server.free_port(), workers=workers
    )
    log = root / "mlflow.log"
    process = tracking_server.start(config, log)
    try:
        print("training the quick demo into a local MLflow...", flush=True)
        yield config.url, log, models.train_demo(config.url, BASE_MODEL), process.pid
    finally:
        tracking_server.stop(process)


def register_models(url: str, runs: dict[str, Any], count: int, prefix: str) -> list[str]:
    """``count`` registered models, each with one version holding the logistic regression."""
    source = runs["logistic_regression"]["version"]
    names = [f"{prefix}-{i:03d}" for i in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: models.register_copy(url, n, BASE_MODEL, source), names))
    return names


@dataclass
class OperatorRun:
    kubeconfig: Path
    namespace: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    metrics_port: int = 0
    samples: list[processes.ProcessSample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.metrics_port = tracking_server.free_port()
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig),
               "MLROLLOUT_OPERATOR_NAMESPACES": json.dumps([self.namespace]),
               "MLROLLOUT_OPERATOR_METRICS_PORT": str(self.metrics_port),
               "MLROLLOUT_OPERATOR_LIVENESS_PORT": str(tracking_server.free_port())}  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "promotion_operator"], env=env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                url = f"http://127.0.0.1:{self.metrics_port}/metrics"
                with urllib.request.urlopen(url, timeout=2):
                    break
            if self.process.poll() is not None:
                raise SystemExit(f"the operator exited at start; see {self.log_path}")
            time.sleep(0.2)
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            if self.process is None or self.process.poll() is not None:
                return
            with contextlib.suppress(OSError):
                self.samples.append(processes.sample(self.process.pid))

    def stop(self) -> None:
        self._stop.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def specs(names: list[str], url: str, image: str, rollout: bool) -> list[dict[str, Any]]:
    """Gates only: a gate no model meets. Rollout: gates pass, one pod on a kwok node (scheduled
    and reported Ready without a container: `fake_nodes`), no live window."""
    out = []
    for name in names:
        if rollout:
            spec = promotion_spec(name, "1", image, url, replicas=1,
                                  verification={"durationSeconds": 0, "gates": []})  # fmt: skip
            spec["serving"]["nodeSelector"] = dict(fake_nodes.NODE_SELECTOR)
            spec["serving"]["tolerations"] = [dict(t) for t in fake_nodes.TOLERATIONS]
        else:
            spec = promotion_spec(name, "1", image, url, gates=FAILING_GATE)
        out.append(promotion(name, spec))
    return out


def apply_and_wait(
    api: client.ApiClient, namespace: str, bodies: list[dict[str, Any]], timeout_s: float
) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    """Create every body at once (16 client threads); (applied_at, verdict_at, phase) by name,
    times on the wall clock (the API server's timestamps are compared with them)."""
    custom = client.CustomObjectsApi(api)
    applied: dict[str, float] = {}
    verdicts: dict[str, float] = {}
    phases: dict[str, str] = {}
    lock = threading.Lock()

    def create(body: dict[str, Any]) -> None:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
        with lock:
            applied[body["metadata"]["name"]] = time.time()

    stream = watch.Watch()  # type: ignore[no-untyped-call]

    def follow() -> None:
        deadline = time.monotonic() + timeout_s
        while len(verdicts) < len(bodies) and time.monotonic() < deadline:
            events = stream.stream(  # type: ignore[no-untyped-call]
                custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                timeout_seconds=30,
            )
            for event in events:
                obj = event["object"]
                status = read_status(obj)
                name = obj["metadata"]["name"]
                if status.concluded and name not in verdicts:
                    with lock:
                        verdicts[name] = time.time()
                        phases[name] = str(status.current_phase)
                if len(verdicts) == len(bodies) or time.monotonic() > deadline:
                    stream.stop()  # type: ignore[no-untyped-call]
                    break

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    time.sleep(0.5)  # the watch is open before the first create
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create, bodies))
    watcher.join(timeout_s + 5)
    stream.stop()  # type: ignore[no-untyped-call]
    return applied, verdicts, phases


def fresh_namespace(api: client.ApiClient) -> str:
    name = f"bench-operator-{uuid.uuid4().hex[:5]}"
    client.CoreV1Api(api).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    )
    return name


def delete_namespace(api: client.ApiClient, name: str, timeout_s: float = 180) -> None:
    """Delete it and wait until it is gone (the operator must still run: finalizers)."""
    core = client.CoreV1Api(api)
    core.delete_namespace(name, propagation_policy="Background")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            core.read_namespace(name)
        except client.exceptions.ApiException as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(1)
    raise SystemExit(f"namespace {name} still terminating after {timeout_s:.0f} s")


def rollout_steps(
    api: client.ApiClient, namespace: str, applied: dict[str, float], verdicts: dict[str, float]
) -> dict[str, list[float]]:
    """Where a rollout's time went, per promotion, from the objects' own timestamps (whole
    seconds): apply → Deployment created (the offline gates), → its pod Ready (Kubernetes'
    controllers, the scheduler, the node), → verdict (the operator sees it, promotes)."""

    def items(objects: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = api.sanitize_for_serialization(objects)["items"]  # type: ignore[no-untyped-call]
        return found

    def seconds(stamp: str) -> float:
        return datetime.datetime.fromisoformat(stamp).timestamp()

    deployments = items(client.AppsV1Api(api).list_namespaced_deployment(namespace))
    created = {d["metadata"]["name"]: seconds(d["metadata"]["creationTimestamp"])
               for d in deployments}  # fmt: skip
    ready: dict[str, float] = {}
    for pod in items(client.CoreV1Api(api).list_namespaced_pod(namespace)):
        owner = pod["metadata"].get("labels", {}).get("app.kubernetes.io/instance")
        for c in pod.get("status", {}).get("conditions", []):
            if owner and c["type"] == "Ready" and c["status"] == "True":
                at = seconds(c["lastTransitionTime"])
                ready[owner] = min(ready.get(owner, at), at)
    steps: dict[str, list[float]] = {"gates": [], "kubernetes": [], "promotion": []}
    for name, at in applied.items():
        if name in created and name in ready and name in verdicts:
            steps["gates"].append(created[name] - at)
            steps["kubernetes"].append(ready[name] - created[name])
            steps["promotion"].append(verdicts[name] - ready[name])
    return steps
