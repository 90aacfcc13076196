"""Load shedding: past a bounded number of inference requests, answer 503 at once.

Without a bound, a server past saturation queues every request it accepts, and the latency of all
of them grows with the queue. Here at most `max_pending_requests` inference requests are admitted
(in flight on the inference thread plus queued in the micro-batcher); the rest get 503 with
`Retry-After` before their body is read, so a shed request costs almost nothing and the admitted
ones keep the latency of a saturated server, not of an overloaded one. 503 rather than 429: the
server is busy, not the client over a quota. Health, metadata and `/metrics` are never shed, so an
overloaded pod stays Ready and in the Service (leaving it would push its load onto the others).
"""

from __future__ import annotations

import re

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


def inference_route(path: str, method: str = "POST") -> str | None:
    for pattern, template in _INFERENCE_ROUTES:
        if pattern.match(path):
            return template
    if path == MIRROR_ROUTE and method == "POST":
        return MIRROR_ROUTE
    return None


class Admitted:
    """How many inference requests are admitted now (one event loop: no lock needed)."""

    def __init__(self) -> None:
        self.count = 0


class AdmissionMiddleware:
    """Pure ASGI: counts admitted inference requests and sheds those over the limit."""

    def __init__(
        self, app: ASGIApp, limit: int, retry_after_s: int, admitted: Admitted, shed: Counter
    ) -> None:
        self.app = app
        self.limit = limit
        self._admitted = admitted
        self._shed = shed
        self._headers = [
            (b"content-type", b"application/json"),
            (b"retry-after", str(retry_after_s).encode()),
        ]
        self._body = orjson.dumps(
            {
                "error": f"server overloaded: {limit} inference requests already admitted "
                f"(MODEL_SERVER_MAX_PENDING_REQUESTS); retry after {retry_after_s} s"
            }
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = scope["type"] == "http"
        route = inference_route(scope["path"], scope["method"]) if http else None
        if route is None:
            await self.app(scope, receive, send)
            return
        admitted = self._admitted
        if admitted.count >= self.limit:
            scope[ROUTE_TEMPLATE_KEY] = route
            self._shed.inc()
            headers = [*self._headers, (b"content-length", str(len(self._body)).encode())]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": self._body})
            return
        admitted.count += 1
        try:
            await self.app(scope, receive, send)
        finally:
            admitted.count -= 1
