"""Shedding inside uvicorn's HTTP protocol: a refused request never becomes an ASGI request.

Under an open-loop spike the server refuses about as many requests as it answers, so what a
refusal costs is taken from the admitted ones. At the ASGI door (`ModelServerApp`) a refusal
still costs uvicorn's request cycle, an asyncio task and two `send` calls through the server's
response writer. Here, once the request's headers are parsed, an inference request past the
bound is marked; its body is discarded as it arrives and, when the message is complete, a
prepared 503 is written straight to the socket. Keep-alive, `Connection: close` and the
keep-alive timer behave as uvicorn's own answer would.

What this door does not take (a request pipelined behind one still running, one that expects
`100-continue`, one with a malformed URL) goes through uvicorn as before, to the ASGI doors.
Only the single-process server uses it: `workers > 1` gives uvicorn an import string, and each
worker's app keeps its own `Admission`.
"""

from __future__ import annotations

import time
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .admission import Admission, inference_route


class _SheddingProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` with a refusal that skips the ASGI application."""

    admission: Admission  # set on the class `protocol_for` makes

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shed_route: str | None = None  # the request being refused, by route template
        self._shed_started = 0.0
        self._shed_keep_alive = True

    def on_headers_complete(self) -> None:
        self._shed_route = self._route_to_shed()
        if self._shed_route is None:
            super().on_headers_complete()
            return
        self._shed_started = time.perf_counter()
        self._shed_keep_alive = (
            self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
        )

    def _route_to_shed(self) -> str | None:
        admission = self.admission
        if admission.count < admission.limit or self.expect_100_continue:
            return None
        if self.cycle is not None and not self.cycle.response_complete:
            return None  # pipelined behind a running request: answers keep their order
        if self.parser.get_method() != b"POST":
            return None  # inference is a POST; anything else is uvicorn's to answer
        try:
            path = httptools.parse_url(self.url).path.decode("ascii")
        except (httptools.HttpParserInvalidURLError, UnicodeDecodeError):
            return None  # uvicorn answers what it cannot parse
        return inference_route(path)

    def on_body(self, body: bytes) -> None:
        if self._shed_route is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        route = self._shed_route
        if route is None:
            super().on_message_complete()
            return
        self._shed_route = None
        keep_alive = self._shed_keep_alive
        default_headers = self.server_state.default_headers
        self.transport.write(self.admission.shed_response(default_headers, keep_alive))
        self.admission.count_shed(route, "POST", time.perf_counter() - self._shed_started)
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()  # counted; the keep-alive timer, as after any answer


def protocol_for(admission: Admission) -> type[HttpToolsProtocol]:
    """The protocol class for `uvicorn.Config(http=...)`, shedding for ``admission``."""
    return type("SheddingProtocol", (_SheddingProtocol,), {"admission": admission})
