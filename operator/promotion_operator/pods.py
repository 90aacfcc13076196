"""Facts about a serving pod that both the rollout watch and the live metrics need."""

from __future__ import annotations

from typing import Any

DEFAULT_HTTP_PORT = 8080


def is_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def http_port(pod: Any) -> int:
    """The container port named `http` (the model server's), as the pod spec declares it."""
    for container in pod.spec.containers:
        for port in container.ports or []:
            if port.name == "http":
                return int(port.container_port)
    return DEFAULT_HTTP_PORT


def base_url(pod: Any, proxy_url: str = "") -> str | None:
    """Where the pod's model server answers, or None before the pod has an IP: at the pod's IP,
    or with ``proxy_url`` (a `kubectl proxy`) through the API server's pod proxy, which reaches
    the pod at that same IP (an unscheduled pod cannot be proxied either)."""
    ip = pod.status.pod_ip
    if not ip:
        return None
    port = http_port(pod)
    if proxy_url:
        pod_path = f"namespaces/{pod.metadata.namespace}/pods/{pod.metadata.name}:{port}"
        return f"{proxy_url.rstrip('/')}/api/v1/{pod_path}/proxy"
    return f"http://{ip}:{port}"
