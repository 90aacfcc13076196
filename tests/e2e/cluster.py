"""How the e2e tier finds and talks to the test cluster (never any other cluster).

Provider-agnostic: Services and pods are reached through `kubectl proxy` and the API server's
proxy, as a user reaches them on kind or any cluster from outside it; nothing here needs the
host to route to pod or Service IPs."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from mlrollout.testbed.tools import ROOT, Kube

LOCAL_KUBECONFIG = Path("/var/lib/mlrollout-cluster/kubeconfig")
# Contexts made by `make cluster-up` and `make cluster-up CLUSTER=kind`; anything else is refused.
LOCAL_CONTEXT, KIND_CONTEXT = "mlrollout-local", "kind-mlrollout"
TEST_CONTEXTS = (LOCAL_CONTEXT, KIND_CONTEXT)
T = TypeVar("T")


class NoTestCluster(Exception):
    """No test cluster is reachable; the message says how to get one."""


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    context: str
    api: client.ApiClient
    host_ip: str  # where pods reach processes on this machine (MLflow, in these tests)
    proxy_url: str = ""  # a `kubectl proxy` on this cluster (the session fixture starts one)

    def service_url(self, namespace: str, name: str, port: int = 80) -> str:
        """The Service's base URL through the API server's proxy (a ready endpoint per request)."""
        return f"{self._proxy()}/api/v1/namespaces/{namespace}/services/{name}:{port}/proxy"

    def pod_url(self, namespace: str, pod: str, port: int = 8080) -> str:
        """One pod's base URL through the API server's proxy (the model server's port)."""
        return f"{self._proxy()}/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy"

    def cluster_ip_url(self, namespace: str, name: str, port: int = 80) -> str:
        """The Service at its ClusterIP, for a client that must not depend on the API server
        (which the cluster-fault tests kill). Only the local provider's host reaches ClusterIPs
        (kube-proxy programs the host's own OUTPUT chain)."""
        assert self.context == LOCAL_CONTEXT, (
            "ClusterIPs are reachable from the local provider only"
        )
        service: Any = self.core.read_namespaced_service(name, namespace)
        return f"http://{service.spec.cluster_ip}:{port}"

    def _proxy(self) -> str:
        if not self.proxy_url:
            raise AssertionError("no kubectl proxy: take the `cluster` fixture, which starts one")
        return self.proxy_url

    @property
    def kube(self) -> Kube:
        """kubectl and helm on this cluster (the same runner `make demo` uses)."""
        return Kube(self.kubeconfig, self.context)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def autoscaling(self) -> client.AutoscalingV2Api:
        return client.AutoscalingV2Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def json(self, obj: object) -> dict[str, Any]:
        """A client model as the API's own JSON (camelCase keys), for plain dict access."""
        data: dict[str, Any] = self.api.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
        return data


def kubeconfig_path() -> Path:
    explicit = os.environ.get("MLROLLOUT_KUBECONFIG") or os.environ.get("KUBECONFIG")
    return Path(explicit) if explicit else LOCAL_KUBECONFIG


def connect() -> Cluster:
    """The test cluster the kubeconfig names, or NoTestCluster saying why not."""
    path = kubeconfig_path()
    if not path.exists():
        raise NoTestCluster(f"no kubeconfig at {path}: run `make cluster-up` (or `make kind-up`)")
    _, active = config.list_kube_config_contexts(config_file=str(path))  # type: ignore[no-untyped-call]
    context = str(active["name"])
    if context not in TEST_CONTEXTS:
        raise NoTestCluster(
            f"refusing context {context!r} in {path}: e2e tests only run against "
            f"{', '.join(TEST_CONTEXTS)}"
        )
    api = config.new_client_from_config(config_file=str(path), context=context)  # type: ignore[no-untyped-call]
    try:
        client.VersionApi(api).get_code(_request_timeout=5)
    except Exception as exc:  # any failure means "not reachable"
        raise NoTestCluster(f"test cluster {context} at {path} not reachable ({exc})") from None
    return Cluster(path, context, api, _host_ip(context))


def _host_ip(context: str) -> str:
    """Where pods reach this machine: MLROLLOUT_E2E_HOST_IP, else what the provider says (the
    local cluster's bridge address; on kind, the kind network's gateway)."""
    explicit = os.environ.get("MLROLLOUT_E2E_HOST_IP")
    if explicit:
        return explicit
    provider = "kind" if context == KIND_CONTEXT else "local"
    answer = subprocess.run(
        [str(ROOT / "hack" / "cluster.sh"), "host-ip"], capture_output=True, text=True,
        env={**os.environ, "MLROLLOUT_CLUSTER": provider}, timeout=60, check=False,
    )  # fmt: skip
    if answer.returncode != 0 or not answer.stdout.strip():
        raise NoTestCluster(f"cannot tell where pods reach this machine: {answer.stderr.strip()}")
    return answer.stdout.strip()


def wait_for(
    what: str, probe: Callable[[], T | None], timeout_s: float, explain: Callable[[], str]
) -> T:
    """Poll ``probe`` until it returns something truthy; on timeout say what and show state."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = probe()
        except ApiException as exc:
            if exc.status != 404:
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s:.0f}s waiting for {what}\n{explain()}"
            )
        time.sleep(1)


def describe_namespace(cluster: Cluster, namespace: str) -> str:
    """What a failing e2e test prints: objects, events and the last lines of every pod's log."""
    parts = []
    for args in (
        ("get", "modelpromotions,deploy,rs,pods,svc,hpa,endpointslices", "-o", "wide"),
        ("get", "modelpromotions", "-o", "yaml"),
        ("get", "events", "--sort-by=.lastTimestamp"),
    ):
        result = cluster.kube.kubectl("-n", namespace, *args)
        parts.append(f"$ kubectl {' '.join(args)}\n{result.stdout}{result.stderr}")
    pods: Any = cluster.core.list_namespaced_pod(namespace).items
    for pod in pods:
        result = cluster.kube.kubectl("-n", namespace, "logs", pod.metadata.name, "--tail=15")
        parts.append(f"$ kubectl logs {pod.metadata.name}\n{result.stdout}{result.stderr}")
    return "\n".join(parts)
