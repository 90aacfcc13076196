"""The door inside uvicorn's protocol: past the bound an inference request is answered 503 from
the parser's callbacks, with no ASGI task; below it, or for anything else, uvicorn as usual.
(The real server behind this door: `test_load_shedding.py`.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from model_server.admission import Admission
from model_server.metrics import ServerMetrics
from model_server.shedding_protocol import protocol_for

SERVER_HEADERS = [(b"date", b"Mon, 30 Nov 2026 20:00:00 GMT"), (b"server", b"uvicorn")]


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 5555)}.get(name)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    headers = [(b"content-length", b"12")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"from the app"})


class _Connection:
    def __init__(self, admission: Admission, loop: asyncio.AbstractEventLoop) -> None:
        self.state = ServerState()
        self.state.default_headers = SERVER_HEADERS
        config = Config(_app, log_config=None)
        self.protocol = protocol_for(admission)(config, self.state, {}, _loop=loop)
        self.transport = _Transport()
        self.protocol.connection_made(self.transport)
        self.loop = loop

    def send(self, data: bytes) -> None:
        self.protocol.data_received(data)
        if self.state.tasks:  # the app's answer, when uvicorn gave it the request
            self.loop.run_until_complete(asyncio.gather(*self.state.tasks))


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    for handle in [*loop._scheduled]:  # type: ignore[attr-defined]  # keep-alive timers
        handle.cancel()
    loop.close()


def _admission(limit: int) -> tuple[Admission, ServerMetrics]:
    metrics = ServerMetrics()
    return Admission(limit, 2, metrics.shed, metrics.observe_request), metrics


def _post(path: str, body: bytes, *extra: bytes) -> bytes:
    head = [b"POST " + path.encode() + b" HTTP/1.1", b"host: x",
            b"content-length: " + str(len(body)).encode(), *extra]  # fmt: skip
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def test_past_the_bound_a_503_is_written_without_an_asgi_task(
    loop: asyncio.AbstractEventLoop,
) -> None:
    admission, metrics = _admission(limit=1)
    admission.count = 1
    connection = _Connection(admission, loop)
    request = _post("/predict", b'{"instances": [[1, 2]]}')
    connection.protocol.data_received(request[:40])  # the body arrives later, in two parts
    connection.protocol.data_received(request[40:50])
    assert connection.transport.written == b""  # answered once the message is complete
    connection.protocol.data_received(request[50:])
    assert not connection.state.tasks  # the application never ran
    head, body = connection.transport.written.split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 503 Service Unavailable"
    assert set(lines[1:]) >= {b"date: Mon, 30 Nov 2026 20:00:00 GMT", b"retry-after: 2"}
    assert int(dict(x.split(b": ") for x in lines[1:])[b"content-length"]) == len(body)
    assert b"MODEL_SERVER_MAX_PENDING_REQUESTS" in body
    assert not connection.transport.closed  # keep-alive
    assert metrics.registry.get_sample_value("mlrollout_model_server_shed_requests_total") == 1
    labels = {"route": "/predict", "method": "POST", "status": "503"}
    assert metrics.registry.get_sample_value("mlrollout_model_server_requests_total", labels) == 1
    # The connection goes on: room again, the next request reaches the application.
    admission.count = 0
    connection.transport.written = b""
    connection.send(_post("/predict", b"{}"))
    assert connection.transport.written.startswith(b"HTTP/1.1 200 OK")
    assert connection.transport.written.endswith(b"from the app")


def test_connection_close_is_honoured_and_pipelined_refusals_keep_their_order(
    loop: asyncio.AbstractEventLoop,
) -> None:
    admission, _ = _admission(limit=1)
    admission.count = 1
    connection = _Connection(admission, loop)
    connection.send(_post("/v2/models/m/infer", b"{}") + _post("/predict", b"[]"))
    assert connection.transport.written.count(b"HTTP/1.1 503") == 2
    connection.send(_post("/predict", b"{}", b"connection: close"))
    assert connection.transport.written.count(b"HTTP/1.1 503") == 3
    assert connection.transport.written.split(b"HTTP/1.1 503")[-1].count(b"connection: close")
    assert connection.transport.closed


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /v2/health/ready HTTP/1.1\r\nhost: x\r\n\r\n",  # health: never shed
        _post("/mirror", b"", b"expect: 100-continue"),  # uvicorn answers the 100-continue
        _post("/v2/repository/index", b"{}"),  # not inference
    ],
)
def test_what_is_not_inference_reaches_the_application_even_when_full(
    loop: asyncio.AbstractEventLoop, request_bytes: bytes
) -> None:
    admission, _ = _admission(limit=1)
    admission.count = 1
    connection = _Connection(admission, loop)
    connection.send(request_bytes)
    assert connection.transport.written.endswith(b"from the app")
