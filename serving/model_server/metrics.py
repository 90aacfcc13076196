"""Prometheus metrics on a registry of the app's own (tests get a fresh one per app).

The operator's live verification reads the request latency histogram and the status-labelled
request counter, so their names and labels are part of the contract.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .admission import MIRROR_ROUTE, ROUTE_TEMPLATE_KEY
from .memory import read_memory

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_UNMONITORED_PREFIXES = ("/v2/health/", "/metrics")
MIRROR_OUTCOMES = ("sent", "dropped", "failed")


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        prefix = "mlrollout_model_server"
        self.requests = Counter(
            f"{prefix}_requests", "Requests by route template, method and status code.",
            ["route", "method", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            f"{prefix}_request_duration_seconds", "Request latency by route template and method.",
            ["route", "method"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.shed = Counter(
            f"{prefix}_shed_requests",
            "Inference requests refused with 503 for overload.",
            registry=r,
        )
        self.admitted = Gauge(
            f"{prefix}_admitted_requests",
            "Inference requests admitted now (in flight plus queued).", registry=r,
        )  # fmt: skip
        self.rows = Counter(f"{prefix}_inference_rows", "Rows predicted.", registry=r)
        self.batch_rows = Histogram(
            f"{prefix}_batch_rows", "Rows per predict call after micro-batching.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024), registry=r,
        )  # fmt: skip
        self.load_seconds = Gauge(
            f"{prefix}_model_load_seconds", "Seconds the last successful load took.", registry=r
        )
        self.ready = Gauge(f"{prefix}_model_ready", "1 when the model serves requests.", registry=r)
        self.info = Gauge(
            f"{prefix}_model_info", "The served model (value is always 1).",
            ["name", "version", "flavor", "uri", "fast_path"], registry=r,
        )  # fmt: skip
        # Shadow mirroring (mirror.py on a champion, shadow.py on a shadow).
        self.mirror_requests = Counter(
            f"{prefix}_mirror_requests",
            "Requests mirrored to the shadow: sent (2xx), dropped (queue full), failed.",
            ["outcome"], registry=r,
        )  # fmt: skip
        for outcome in MIRROR_OUTCOMES:
            self.mirror_requests.labels(outcome)
        self.mirror_share = Gauge(
            f"{prefix}_mirror_share",
            "Share of the answered requests mirrored to the shadow now (0: mirroring is off).",
            registry=r,
        )
        self.mirror_rows = Counter(
            f"{prefix}_mirror_rows", "Mirrored rows a shadow compared with the champion.",
            registry=r,
        )  # fmt: skip
        self.mirror_agreed_rows = Counter(
            f"{prefix}_mirror_agreed_rows",
            "Mirrored rows where the shadow's prediction agreed with the champion's.", registry=r,
        )  # fmt: skip
        self.mirror_predictions = Counter(
            f"{prefix}_mirror_predictions",
            "Labels predicted on mirrored rows by the champion and by this shadow (candidate).",
            ["side", "label"], registry=r,
        )  # fmt: skip
        r.register(MemoryCollector(prefix))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request, under its route template (the operator reads these two)."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)


class MemoryCollector:
    """The working set and the memory limit, read at each scrape (the operator's memory gates
    read these)."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix

    def collect(self) -> Iterator[Metric]:
        reading = read_memory()
        working_set = GaugeMetricFamily(
            f"{self._prefix}_memory_working_set_bytes",
            "The container's working set (cgroup usage minus inactive file cache) in a pod, "
            "else the process's resident set.", labels=["source"],
        )  # fmt: skip
        working_set.add_metric([reading.source], reading.working_set_bytes)
        yield working_set
        if reading.limit_bytes is not None:
            yield GaugeMetricFamily(
                f"{self._prefix}_memory_limit_bytes", "The container's memory limit.",
                value=reading.limit_bytes,
            )  # fmt: skip


def _is_monitored(method: str, path: str) -> bool:
    if path == MIRROR_ROUTE:  # a champion's poll is no traffic: route /mirror is mirrored requests
        return method != "GET"
    return not (path.startswith(_UNMONITORED_PREFIXES) or path.endswith("/ready"))


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): counts and times every request but health, scrape
    and the champions' polls of a shadow (GET /mirror)."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_monitored(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or scope.get(ROUTE_TEMPLATE_KEY, "unmatched")
            seconds = time.perf_counter() - start
            self.metrics.observe_request(template, scope["method"], status, seconds)
