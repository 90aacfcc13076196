"""Every Kubernetes call of the operator is bounded: a slow or half-open API connection fails
the pass (which is retried) instead of holding a resource's lock, or a worker thread, for ever."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from kubernetes import client
from kubernetes.client import rest

from promotion_operator.cluster import Cluster


def answer(url: str) -> bytes:
    """A minimal valid body for each kind of call made here."""
    if "/secrets/" in url:
        return b'{"data": {"password": "cGFzcw=="}}'
    if url.endswith("/pods"):
        return b'{"items": []}'
    if "/deployments/" in url:
        return b'{"spec": {"selector": {}, "template": {}}}'
    return b"{}"


class RecordingApi(client.ApiClient):
    """Answers every HTTP request with ANSWER and records the timeout it was sent with."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[tuple[str, Any]] = []
        self.rest_client.request = self._request  # type: ignore[method-assign,assignment]

    def _request(self, method: str, url: str, **kwargs: Any) -> rest.RESTResponse:
        self.timeouts.append((f"{method} {url}", kwargs.get("_request_timeout")))
        raw = SimpleNamespace(status=200, reason="OK", data=answer(url.partition("?")[0]),
                              headers={"content-type": "application/json"})  # fmt: skip
        return rest.RESTResponse(raw)


def test_every_call_carries_the_timeout() -> None:
    api = RecordingApi()
    cluster = Cluster(api, timeout_s=7)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "churn", "namespace": "ml"}}  # fmt: skip

    async def calls() -> None:
        await cluster.apply([deployment])
        await cluster.remove("Deployment", "churn", "ml")
        await cluster.pods("churn", "ml", "3")
        await cluster.write_status("ml", "churn", {"phase": "Pending"})
        assert await cluster.read_secret("mlflow", "ml") == {"password": "cGFzcw=="}

    asyncio.run(calls())
    assert len(api.timeouts) == 5, api.timeouts
    assert {timeout for _, timeout in api.timeouts} == {7}, api.timeouts
