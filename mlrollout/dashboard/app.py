"""The dashboard's HTTP endpoints: the page, a JSON snapshot, the live stream, a health check.

Read-only by construction: every route is a GET, and the only credentials involved are the
user's own, held by the process that lists and watches (never sent to the browser).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .feed import PromotionFeed
from .sse import HEARTBEAT_S, event_stream

STATIC = Path(__file__).parent / "static"
# The page loads only its own script and stylesheet and talks only to this server.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def create_app(
    feed: PromotionFeed,
    *,
    heartbeat_s: float = HEARTBEAT_S,
    allowed_hosts: Sequence[str] = ("*",),
) -> Starlette:
    """``allowed_hosts``: the Host headers served (a dashboard on a loopback address answers
    only to loopback names, so a web page cannot read it through DNS rebinding)."""

    async def page(_: Request) -> Response:
        headers = {"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"}
        return FileResponse(STATIC / "index.html", headers=headers)

    async def promotions(_: Request) -> Response:
        return JSONResponse(feed.snapshot())

    async def stream(_: Request) -> Response:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            event_stream(feed, heartbeat_s), media_type="text/event-stream", headers=headers
        )

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", "source": feed.snapshot()["health"]})

    routes = [
        Route("/", page),
        Route("/api/promotions", promotions),
        Route("/api/stream", stream),
        Route("/healthz", healthz),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))]
    return Starlette(routes=routes, middleware=middleware)
