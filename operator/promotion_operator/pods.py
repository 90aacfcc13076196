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


def base_url(pod: Any) -> str | None:
    """Where the pod's model server answers, or None before the pod has an IP."""
    ip = pod.status.pod_ip
    return f"http://{ip}:{http_port(pod)}" if ip else None
