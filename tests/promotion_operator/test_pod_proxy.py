"""An operator outside the cluster reaches serving pods through `kubectl proxy`: the API
server's pod proxy (`MLROLLOUT_OPERATOR_POD_PROXY_URL`) instead of the pods' IPs.

The last test runs the real `Cluster` and `Live` against a local HTTP server that plays
`kubectl proxy`: the API (the pod list, the Deployment) and the pod proxy under the same base.
The pods' IPs are in a documentation range (192.0.2.0/24), reachable from nowhere."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from kubernetes import client
from prometheus_client import generate_latest
from pydantic import ValidationError

from model_server.metrics import ServerMetrics
from promotion_operator.cluster import Cluster
from promotion_operator.live import Live
from promotion_operator.manifests import PROMOTION_LABEL, VERSION_LABEL
from promotion_operator.pods import base_url
from promotion_operator.settings import OperatorSettings
from promotion_operator.wiring import build_context

from .http_stub import StubHandler, serving

PROXY = "http://127.0.0.1:8001"
JSON = "application/json"
DEPLOYMENT = b'{"spec": {"selector": {}, "template": {}}}'
PROFILE = {"reference": {"tenure": {"edges": [0, 12], "counts": [5, 5]}}, "live": {}}


def pod_json(name: str, ip: str | None, *, ready: bool, port: int = 8080) -> dict[str, Any]:
    """A serving pod as the API returns it: a sidecar's port first, the model server's `http`."""
    return {
        "metadata": {"name": name, "namespace": "ns",
                     "labels": {PROMOTION_LABEL: "churn", VERSION_LABEL: "3"}},
        "spec": {"containers": [
            {"name": "sidecar", "ports": [{"name": "admin", "containerPort": 9000}]},
            {"name": "model-server", "ports": [{"name": "http", "containerPort": port}]},
        ]},
        "status": {"podIP": ip,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }  # fmt: skip


def v1_pod(name: str, ip: str | None, port: int) -> client.V1Pod:
    """Such a pod as the Kubernetes client's model, as `Cluster.pods` returns it."""
    admin = client.V1ContainerPort(container_port=9000, name="admin")
    http = client.V1ContainerPort(container_port=port, name="http")
    containers = [
        client.V1Container(name="sidecar", ports=[admin]),
        client.V1Container(name="model-server", ports=[http]),
    ]
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, namespace="ns"),
        spec=client.V1PodSpec(containers=containers),
        status=client.V1PodStatus(pod_ip=ip),
    )


def test_base_url_at_the_pod_ip_or_through_the_pod_proxy() -> None:
    pod = v1_pod("churn-7d9f-abcde", "10.244.0.7", port=8081)
    assert base_url(pod) == "http://10.244.0.7:8081"  # the `http` port, not the sidecar's
    proxied = "http://127.0.0.1:8001/api/v1/namespaces/ns/pods/churn-7d9f-abcde:8081/proxy"
    assert base_url(pod, PROXY) == proxied
    assert base_url(pod, PROXY + "/") == proxied
    assert base_url(pod, "https://proxy.example:8443/k8s") == (
        "https://proxy.example:8443/k8s/api/v1/namespaces/ns/pods/churn-7d9f-abcde:8081/proxy"
    )
    unscheduled = v1_pod("churn-7d9f-fghij", None, 8081)
    assert base_url(unscheduled) is None
    assert base_url(unscheduled, PROXY) is None  # no IP yet: the API server cannot proxy it


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ""),
        ("http://127.0.0.1:8001", "http://127.0.0.1:8001"),
        ("http://127.0.0.1:8001/", "http://127.0.0.1:8001"),
        ("https://proxy.example:8443/k8s/", "https://proxy.example:8443/k8s"),
    ],
)
def test_the_pod_proxy_setting(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    monkeypatch.setenv("MLROLLOUT_OPERATOR_POD_PROXY_URL", value)
    assert OperatorSettings().pod_proxy_url == expected


@pytest.mark.parametrize(
    "value",
    [
        "ftp://127.0.0.1:8001",
        "127.0.0.1:8001",
        "localhost:8001",
        "http://",
        "http://127.0.0.1:port",
        "http://127.0.0.1:8001/?watch=1",
        "http://127.0.0.1:8001/?",
        "http://127.0.0.1:8001/#top",
    ],
)
def test_a_pod_proxy_url_that_cannot_be_used_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MLROLLOUT_OPERATOR_POD_PROXY_URL", value)
    with pytest.raises(ValidationError, match="MLROLLOUT_OPERATOR_POD_PROXY_URL must be"):
        OperatorSettings()


def test_the_operator_uses_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLROLLOUT_OPERATOR_POD_PROXY_URL", PROXY + "/")
    monkeypatch.delenv("MLROLLOUT_OPERATOR_WEBHOOK_URL", raising=False)
    cluster = build_context(OperatorSettings()).cluster
    pod = v1_pod("p", "10.244.0.7", 8080)
    assert cluster.pod_base_url(pod) == f"{PROXY}/api/v1/namespaces/ns/pods/p:8080/proxy"
    monkeypatch.delenv("MLROLLOUT_OPERATOR_POD_PROXY_URL")
    assert build_context(OperatorSettings()).cluster.pod_base_url(pod) == "http://10.244.0.7:8080"


def metrics_page() -> bytes:
    """What the model server's /metrics says after 8 good and 2 failed predictions."""
    metrics = ServerMetrics()
    for status, seconds in [("200", 0.004)] * 8 + [("500", 0.3)] * 2:
        metrics.requests.labels("/predict", "POST", status).inc()
        metrics.latency.labels("/predict", "POST").observe(seconds)
    return generate_latest(metrics.registry)


class KubectlProxy(StubHandler):
    """The API and the pod proxy under one base URL, as `kubectl proxy` serves them: pod `p` is
    ready, pod `q` failed to load its model."""

    seen: ClassVar[list[str]] = []
    metrics: ClassVar[bytes] = b""

    def do_GET(self) -> None:
        self.seen.append(self.path)
        pods = {"items": [pod_json("p", "192.0.2.10", ready=True),
                          pod_json("q", "192.0.2.11", ready=False)]}  # fmt: skip
        failed = {"state": "failed", "reason": "model failed to load: no such run"}
        pod_proxy = "/api/v1/namespaces/ns/pods/{}:8080/proxy"
        answers: dict[str, tuple[int, str, bytes]] = {
            "/api/v1/namespaces/ns/pods": (200, JSON, json.dumps(pods).encode()),
            "/apis/apps/v1/namespaces/ns/deployments/churn": (200, JSON, DEPLOYMENT),
            pod_proxy.format("p") + "/metrics": (200, "text/plain; version=0.0.4", self.metrics),
            pod_proxy.format("p") + "/profile": (200, JSON, json.dumps(PROFILE).encode()),
            pod_proxy.format("q") + "/v2/health/ready": (503, JSON, json.dumps(failed).encode()),
        }
        path = self.path.partition("?")[0]
        self.answer(*answers.get(path, (404, "text/plain", b"404 page not found")))


@pytest.fixture
def kubectl_proxy() -> Iterator[str]:
    KubectlProxy.seen = []
    KubectlProxy.metrics = metrics_page()
    with serving(KubectlProxy) as url:
        yield url


def test_live_samples_and_load_failures_go_through_the_pod_proxy(kubectl_proxy: str) -> None:
    configuration = client.Configuration()
    configuration.host = kubectl_proxy
    api = client.ApiClient(configuration)
    cluster = Cluster(api, timeout_s=5, pod_proxy_url=kubectl_proxy)

    async def scenario() -> None:
        sample = await Live(cluster).sample("churn", "ns", "3", profiles=True)
        assert list(sample.pods) == ["p"]  # q is not ready
        counters = sample.pods["p"]
        assert (counters.requests, counters.errors) == (10, 2)
        assert counters.buckets[0.005] == 8
        assert counters.profile == PROFILE
        state = await cluster.rollout_state("churn", "ns", "3")
        assert state.failed == "pod q: model failed to load: no such run"

    try:
        asyncio.run(scenario())
    finally:
        api.close()  # type: ignore[no-untyped-call]
    proxied = [path for path in KubectlProxy.seen if "/proxy/" in path]
    assert proxied == [
        "/api/v1/namespaces/ns/pods/p:8080/proxy/metrics",
        "/api/v1/namespaces/ns/pods/p:8080/proxy/profile",
        "/api/v1/namespaces/ns/pods/q:8080/proxy/v2/health/ready",
    ]
