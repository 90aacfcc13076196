"""The two layers of load shedding, on the ASGI interface: the gate in front of the framework
refuses past the bound and counts as the metrics middleware would; the middleware inside keeps
the exact count and refuses whatever got past the gate."""

from __future__ import annotations

import asyncio
from typing import Any

from model_server.admission import ROUTE_TEMPLATE_KEY, Admission, AdmissionMiddleware
from model_server.metrics import ServerMetrics


def _admission(limit: int) -> tuple[Admission, ServerMetrics]:
    metrics = ServerMetrics()
    return Admission(limit, 2, metrics.shed, metrics.observe_request), metrics


def _scope(path: str, method: str = "POST") -> dict[str, Any]:
    return {"type": "http", "path": path, "method": method, "headers": []}


def _count(metrics: ServerMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_the_gate_refuses_only_inference_past_the_bound_and_counts_it() -> None:
    admission, metrics = _admission(limit=1)
    assert admission.refuses(_scope("/predict")) is None  # room left
    admission.count = 1
    assert admission.refuses(_scope("/v2/health/ready", "GET")) is None  # health never shed
    assert admission.refuses(_scope("/mirror", "GET")) is None  # a champion's poll is not load
    route = admission.refuses(_scope("/v2/models/m/infer"))
    assert route == "/v2/models/{model_name}/infer"
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(admission.shed_and_count(_scope("/v2/models/m/infer"), send, route))
    assert sent[0]["status"] == 503
    assert (b"retry-after", b"2") in sent[0]["headers"]
    assert b"MODEL_SERVER_MAX_PENDING_REQUESTS" in sent[1]["body"]
    labels = {"route": route, "method": "POST"}
    assert _count(metrics, "mlrollout_model_server_requests_total", **labels, status="503") == 1
    assert _count(metrics, "mlrollout_model_server_request_duration_seconds_count", **labels) == 1
    assert _count(metrics, "mlrollout_model_server_shed_requests_total") == 1


def test_the_middleware_counts_admitted_requests_and_sheds_what_got_past_the_gate() -> None:
    admission, metrics = _admission(limit=1)
    seen: list[int] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(admission.count)  # counted in while it runs
        await send({"type": "http.response.start", "status": 200, "headers": []})

    middleware = AdmissionMiddleware(inner, admission)
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    asyncio.run(middleware(_scope("/predict"), receive, send))
    assert seen == [1]
    assert admission.count == 0  # counted out
    admission.count = 1  # full: one admitted meanwhile
    late = _scope("/predict")
    asyncio.run(middleware(late, receive, send))
    assert seen == [1]  # never reached the app
    assert sent[-2]["status"] == 503
    assert late[ROUTE_TEMPLATE_KEY] == "/predict"  # the metrics middleware labels it
    assert _count(metrics, "mlrollout_model_server_shed_requests_total") == 1
