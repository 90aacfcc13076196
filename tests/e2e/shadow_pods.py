"""What a promotion's shadow pods counted, read from their own `/metrics` while they run (they
are gone once the verdict removes them): requests mirrored to them, and user-facing ones."""

from __future__ import annotations

import threading
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from promotion_operator.manifests import PROMOTION_LABEL, ROLE_LABEL

from .cluster import Cluster

_REQUESTS = "mlrollout_model_server_requests_total"
_USER_ROUTES = {"/predict", "/v2/models/{model_name}/infer"}


def requests_by_route(page: str) -> dict[str, float]:
    by_route: dict[str, float] = {}
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == _REQUESTS:
                route = sample.labels.get("route", "")
                by_route[route] = by_route.get(route, 0.0) + sample.value
    return by_route


class ShadowPods:
    """Reads every shadow pod's request counters each ``period_s`` while in `with`; the last
    reading of each pod is kept in ``seen`` (pod → route → requests)."""

    def __init__(self, cluster: Cluster, namespace: str, name: str, period_s: float = 0.5) -> None:
        self.cluster, self.namespace, self.period_s = cluster, namespace, period_s
        self.selector = f"{PROMOTION_LABEL}={name},{ROLE_LABEL}=shadow"
        self.seen: dict[str, dict[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ShadowPods:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def mirrored(self) -> float:
        return sum(routes.get("/mirror", 0.0) for routes in self.seen.values())

    @property
    def user_requests(self) -> float:
        routes = list(self.seen.values())
        return sum(n for by_route in routes for r, n in by_route.items() if r in _USER_ROUTES)

    def pods_now(self) -> list[Any]:
        found: Any = self.cluster.core.list_namespaced_pod(
            self.namespace, label_selector=self.selector
        )
        return [p for p in found.items if p.metadata.deletion_timestamp is None]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for pod in self.pods_now():
                    if pod.status.pod_ip:
                        url = f"{self.cluster.pod_url(self.namespace, pod.metadata.name)}/metrics"
                        with urllib.request.urlopen(url, timeout=2) as page:
                            self.seen[pod.metadata.name] = requests_by_route(page.read().decode())
            except OSError:
                pass  # not up yet, or going: the last reading stays
            self._stop.wait(self.period_s)
