"""Live metrics of the serving pods, and an optional light smoke load.

The model server's Prometheus endpoint is read directly on each ready pod of the candidate
version (no Prometheus needed); counters are summed over pods. The smoke load sends the
model's own example rows (from its v2 metadata) so a quiet endpoint still yields data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from .cluster import Cluster
from .pods import base_url, is_ready
from .ports import LiveSample

log = logging.getLogger(__name__)

_REQUESTS = "mlrollout_model_server_requests"
_LATENCY = "mlrollout_model_server_request_duration_seconds"
_INFERENCE_ROUTES = {"/predict", "/v2/models/{model_name}/infer"}


def parse_sample(texts: list[str]) -> LiveSample:
    """Sum the inference counters of several pods' `/metrics` pages."""
    requests = errors = 0.0
    buckets: dict[float, float] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.labels.get("route") not in _INFERENCE_ROUTES:
                    continue
                if sample.name == f"{_REQUESTS}_total":
                    requests += sample.value
                    if sample.labels.get("status", "").startswith("5"):
                        errors += sample.value
                elif sample.name == f"{_LATENCY}_bucket":
                    le = float(sample.labels["le"])
                    buckets[le] = buckets.get(le, 0.0) + sample.value
    return LiveSample(len(texts), requests, errors, buckets)


class Live:
    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._smoke: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def _endpoints(self, name: str, namespace: str, version: str) -> list[str]:
        pods = await self._cluster.pods(name, namespace, version)
        return [url for pod in pods if is_ready(pod) and (url := base_url(pod)) is not None]

    async def sample(self, name: str, namespace: str, version: str) -> LiveSample:
        endpoints = await self._endpoints(name, namespace, version)
        if not endpoints:
            raise RuntimeError(f"no ready pods of version {version}")
        async with httpx.AsyncClient(timeout=5) as http:
            pages = [await http.get(f"{base}/metrics") for base in endpoints]
        for page in pages:
            page.raise_for_status()
        return parse_sample([page.text for page in pages])

    def start_smoke_load(
        self, name: str, namespace: str, version: str, model_name: str, rps: float
    ) -> None:
        self.stop_smoke_load(name, namespace)
        load = self._smoke_load(name, namespace, version, model_name, rps)
        self._smoke[(namespace, name)] = asyncio.get_running_loop().create_task(load)

    def stop_smoke_load(self, name: str, namespace: str) -> None:
        task = self._smoke.pop((namespace, name), None)
        if task is not None:
            task.cancel()

    async def _smoke_load(
        self, name: str, namespace: str, version: str, model_name: str, rps: float
    ) -> None:
        """Bounded: stops when verification ends (cancelled) or after one hour at most."""
        rows: list[Any] = []
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(int(3600 * rps)):
                with contextlib.suppress(httpx.HTTPError, KeyError, ValueError, IndexError):
                    endpoints = await self._endpoints(name, namespace, version)
                    if endpoints:
                        base = random.choice(endpoints)  # noqa: S311 - spreading load only
                        if not rows:
                            meta = await http.get(f"{base}/v2/models/{model_name}")
                            rows = meta.raise_for_status().json()["parameters"]["example_instances"]
                        await http.post(f"{base}/predict", json={"instances": rows[:1]})
                await asyncio.sleep(1.0 / rps)
