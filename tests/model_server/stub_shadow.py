"""A stand-in shadow in the test process: answers GET /mirror as told, holds POST /mirror until
released, and keeps what it was sent (a champion's mirroring, as seen on the wire)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import orjson


class StubShadow:
    def __init__(self) -> None:
        self.share_answer: tuple[int, bytes] = (200, b'{"share": 1}')
        self.release = threading.Event()  # POST /mirror answers once this is set
        self.release.set()
        self.polls = 0
        self.posted: list[tuple[dict[str, str], Any]] = []  # (headers, body) of each POST
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.stub = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> StubShadow:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        stub: StubShadow = self.server.stub  # type: ignore[attr-defined]
        stub.polls += 1
        self._answer(*stub.share_answer)

    def do_POST(self) -> None:
        stub: StubShadow = self.server.stub  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        stub.posted.append(({k.lower(): v for k, v in self.headers.items()}, orjson.loads(body)))
        stub.release.wait(timeout=60)
        self._answer(200, b'{"rows": 1, "agreed": 1}')

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access log on the test's stderr
