"""Load shedding: past a bounded number of inference requests, answer 503 at once.

Without a bound, a server past saturation queues every request it accepts, and the latency of all
of them grows with the queue. Here at most `max_pending_requests` inference requests are admitted
(in flight on the inference thread plus queued in the micro-batcher); the rest get 503 with
`Retry-After` before their body is read, so a shed request costs almost nothing and the admitted
ones keep the latency of a saturated server, not of an overloaded one. Past the bound a request
is refused before FastAPI and its middleware see it: under an open-loop spike the server sheds
as many requests as it serves, so what a refusal costs decides what is left for the admitted.
503 rather than 429: the server is busy, not the client over a quota. Health, metadata and
`/metrics` are never shed, so an overloaded pod stays Ready and in the Service (leaving it would
push its load onto the others).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import orjson
from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

# Path → the route template the request metrics label it with (shed requests never reach routing).
_INFERENCE_ROUTES = (
    (re.compile(r"^/predict$"), "/predict"),
    (re.compile(r"^/v2/models/[^/]+(/versions/[^/]+)?/infer$"), "/v2/models/{model_name}/infer"),
)
ROUTE_TEMPLATE_KEY = "mlrollout.route_template"
# A shadow's mirrored requests are model work like inference; a champion's poll (GET) is not.
MIRROR_ROUTE = "/mirror"
# `ServerMetrics.observe_request(route, method, status, seconds)` (metrics.py imports this module).
ObserveRequest = Callable[[str, str, int, float], None]


def inference_route(path: str, method: str = "POST") -> str | None:
    for pattern, template in _INFERENCE_ROUTES:
        if pattern.match(path):
            return template
    if path == MIRROR_ROUTE and method == "POST":
        return MIRROR_ROUTE
    return None


class Admission:
    """How many inference requests are admitted now, the bound, and the answer past it (one event
    loop: no lock needed). Shed twice over: first in front of the whole framework
    (`ModelServerApp`), where a refusal costs a few microseconds, then exactly, where requests are
    counted in (`AdmissionMiddleware`)."""

    def __init__(
        self, limit: int, retry_after_s: int, shed: Counter, observe_request: ObserveRequest
    ) -> None:
        self.count = 0
        self.limit = limit
        self._shed, self._observe_request = shed, observe_request
        body = orjson.dumps(
            {
                "error": f"server overloaded: {limit} inference requests already admitted "
                f"(MODEL_SERVER_MAX_PENDING_REQUESTS); retry after {retry_after_s} s"
            }
        )
        self._start = {
            "type": "http.response.start", "status": 503,
            "headers": [(b"content-type", b"application/json"),
                        (b"retry-after", str(retry_after_s).encode()),
                        (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        self._body = {"type": "http.response.body", "body": body}

    def refuses(self, scope: Scope) -> str | None:
        """The route template of an inference request to shed now; None to let it in."""
        if self.count < self.limit or scope["type"] != "http":
            return None
        return inference_route(scope["path"], scope["method"])

    async def shed(self, send: Send) -> None:
        self._shed.inc()
        await send(self._start)
        await send(self._body)

    async def shed_and_count(self, scope: Scope, send: Send, route: str) -> None:
        """Shed in front of the metrics middleware: count it as that middleware would."""
        start = time.perf_counter()
        await self.shed(send)
        self._observe_request(route, scope["method"], 503, time.perf_counter() - start)


class AdmissionMiddleware:
    """Pure ASGI: counts admitted inference requests and sheds those over the limit."""

    def __init__(self, app: ASGIApp, admission: Admission) -> None:
        self.app = app
        self._admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = scope["type"] == "http"
        route = inference_route(scope["path"], scope["method"]) if http else None
        if route is None:
            await self.app(scope, receive, send)
            return
        admission = self._admission
        if admission.count >= admission.limit:
            scope[ROUTE_TEMPLATE_KEY] = route  # the metrics middleware around counts it
            await admission.shed(send)
            return
        admission.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            admission.count -= 1
