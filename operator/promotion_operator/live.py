"""Live metrics of the serving pods, and an optional light smoke load.

The model server's Prometheus endpoint is read directly on each ready pod of the candidate
version (no Prometheus needed), pod by pod: at the pod's IP, or through the API server's pod
proxy when the operator runs outside the cluster (`Cluster.pod_base_url`). The smoke load
sends the model's own example rows (from its v2 metadata) so a quiet endpoint still yields
data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import replace
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from .cluster import Cluster
from .pods import is_ready
from .ports import LiveSample, MirrorCounters, PodCounters

log = logging.getLogger(__name__)

_REQUESTS = "mlrollout_model_server_requests"
_LATENCY = "mlrollout_model_server_request_duration_seconds"
_MEMORY = "mlrollout_model_server_memory_working_set_bytes"
_MEMORY_LIMIT = "mlrollout_model_server_memory_limit_bytes"
_MIRROR = "mlrollout_model_server_mirror"
# A shadow's requests are the champion's mirrored ones, on /mirror: its latency and errors.
_INFERENCE_ROUTES = {"/predict", "/v2/models/{model_name}/infer", "/mirror"}
# The model server leaves requests with this header out of its live profile (drift gates).
SMOKE_HEADER = "x-mlrollout-smoke"


def parse_pod(text: str) -> PodCounters:
    """The inference counters and memory gauges of one pod's `/metrics` page."""
    requests = errors = 0.0
    buckets: dict[float, float] = {}
    memory: dict[str, float] = {}
    mirror = _MirrorTally()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in (_MEMORY, _MEMORY_LIMIT):
                memory[sample.name] = sample.value
                continue
            if sample.name.startswith(_MIRROR):
                mirror.count(sample.name, sample.labels, sample.value)
                continue
            if sample.labels.get("route") not in _INFERENCE_ROUTES:
                continue
            if sample.name == f"{_REQUESTS}_total":
                requests += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
            elif sample.name == f"{_LATENCY}_bucket":
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
    memory_bytes, limit = memory.get(_MEMORY), memory.get(_MEMORY_LIMIT)
    return PodCounters(requests, errors, buckets, memory_bytes, limit, mirror=mirror.counters())


class _MirrorTally:
    """The mirror counters of one `/metrics` page, as they are parsed."""

    def __init__(self) -> None:
        self.outcomes: dict[str, float] = {}
        self.totals = {"rows": 0.0, "agreed": 0.0}
        self.labels: dict[tuple[str, str], float] = {}

    def count(self, name: str, labels: dict[str, str], value: float) -> None:
        if name == f"{_MIRROR}_requests_total":
            self.outcomes[labels.get("outcome", "")] = value
        elif name == f"{_MIRROR}_rows_total":
            self.totals["rows"] = value
        elif name == f"{_MIRROR}_agreed_rows_total":
            self.totals["agreed"] = value
        elif name == f"{_MIRROR}_predictions_total":
            self.labels[(labels.get("side", ""), labels.get("label", ""))] = value

    def counters(self) -> MirrorCounters:
        return MirrorCounters(self.outcomes, self.totals["rows"], self.totals["agreed"],
                              self.labels)  # fmt: skip


class Live:
    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        # (namespace, name) → (version under load, the task sending it)
        self._smoke: dict[tuple[str, str], tuple[str, asyncio.Task[None]]] = {}

    async def _endpoints(self, name: str, namespace: str, version: str) -> dict[str, str]:
        """Pod name → base URL of each ready pod serving ``version``."""
        pods = await self._cluster.pods(name, namespace, version)
        return {
            pod.metadata.name: url
            for pod in pods
            if is_ready(pod) and (url := self._cluster.pod_base_url(pod)) is not None
        }

    async def sample(
        self, name: str, namespace: str, version: str, *, profiles: bool = False
    ) -> LiveSample:
        """Each ready pod's counters; with ``profiles`` (a drift gate needs them) also its
        `/profile`, the reference and the counts it served in its bins."""
        endpoints = await self._endpoints(name, namespace, version)
        if not endpoints:
            raise RuntimeError(f"no ready pods of version {version}")
        counters: dict[str, PodCounters] = {}
        async with httpx.AsyncClient(timeout=5) as http:
            for pod, base in endpoints.items():
                page = await http.get(f"{base}/metrics")
                page.raise_for_status()
                counters[pod] = parse_pod(page.text)
                if profiles:
                    profile = await http.get(f"{base}/profile")  # 404: no reference profile
                    if profile.status_code == httpx.codes.OK:
                        counters[pod] = replace(counters[pod], profile=profile.json())
        return LiveSample(counters)

    def ensure_smoke_load(
        self, name: str, namespace: str, version: str, model_name: str, rps: float
    ) -> None:
        key = (namespace, name)
        running = self._smoke.get(key)
        if running is not None and not running[1].done() and running[0] == version:
            return
        self.stop_smoke_load(name, namespace)
        load = self._smoke_load(name, namespace, version, model_name, rps)
        self._smoke[key] = (version, asyncio.get_running_loop().create_task(load))

    def stop_smoke_load(self, name: str, namespace: str) -> None:
        running = self._smoke.pop((namespace, name), None)
        if running is not None:
            running[1].cancel()

    async def _smoke_load(
        self, name: str, namespace: str, version: str, model_name: str, rps: float
    ) -> None:
        """Bounded: stops when verification ends (cancelled) or after one hour at most."""
        rows: list[Any] = []
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(int(3600 * rps)):
                with contextlib.suppress(httpx.HTTPError, KeyError, ValueError, IndexError):
                    endpoints = list((await self._endpoints(name, namespace, version)).values())
                    if endpoints:
                        base = random.choice(endpoints)  # noqa: S311 - spreading load only
                        if not rows:
                            meta = await http.get(f"{base}/v2/models/{model_name}")
                            rows = meta.raise_for_status().json()["parameters"]["example_instances"]
                        await http.post(f"{base}/predict", json={"instances": rows[:1]},
                                        headers={SMOKE_HEADER: "1"})  # fmt: skip
                await asyncio.sleep(1.0 / rps)
