"""The champion's POSTs to its shadow (`poster.py`) against small servers that misbehave."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from model_server.poster import Poster, PostFailed

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head + await reader.readexactly(length)


def run_against(answer: Answer, calls: int, timeout_s: float = 2) -> tuple[list[object], int]:
    """Each call's status (or its PostFailed), and how many connections the server saw.
    ``answer`` answers one request and says whether to keep the connection."""
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while await answer(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> list[object]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        poster = Poster(f"http://127.0.0.1:{port}/mirror", {"x-a": "1"}, timeout_s)
        results: list[object] = []
        for _ in range(calls):
            try:
                results.append(await poster.post(b'{"inputs": []}'))
            except PostFailed as exc:
                results.append(exc)
        await poster.aclose()
        server.close()
        await server.wait_closed()
        return results

    return asyncio.run(main()), connections


async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    request = await _read_request(reader)
    assert request.startswith(b"POST /mirror HTTP/1.1\r\n")
    assert b"\r\nx-a: 1\r\n" in request
    assert request.endswith(b'\r\n\r\n{"inputs": []}')
    writer.write(OK)
    return True


def test_calls_share_one_connection() -> None:
    assert run_against(keep_alive, 3) == ([200, 200, 200], 1)


def test_a_connection_the_server_closed_while_idle_is_opened_again_without_a_failure() -> None:
    async def close_after_answer(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        await keep_alive(reader, writer)
        await writer.drain()
        return False  # as uvicorn does after its keep-alive timeout, without saying so

    assert run_against(close_after_answer, 3) == ([200, 200, 200], 3)


def test_a_request_the_server_dropped_on_a_reused_connection_is_sent_once_more() -> None:
    answered = 0

    async def drop_the_second(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        nonlocal answered
        await _read_request(reader)
        answered += 1
        if answered == 2:  # it raced with closing the idle connection: no answer
            return False
        writer.write(OK)
        return True

    assert run_against(drop_the_second, 2) == ([200, 200], 2)


def test_the_status_is_the_answers() -> None:
    async def not_found(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
        return True

    assert run_against(not_found, 2) == ([404, 404], 1)


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}",  # the connection closes mid-body
    ],
)
def test_an_answer_it_cannot_read_fails_the_call_and_drops_the_connection(reply: bytes) -> None:
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await _read_request(reader)
        writer.write(reply)
        await writer.drain()
        return False

    results, connections = run_against(broken, 2)
    assert all(isinstance(r, PostFailed) for r in results)
    assert connections == 2


def test_a_server_that_never_answers_fails_the_call_at_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await _read_request(reader)
        await asyncio.sleep(30)
        return False

    started = time.monotonic()
    [result], _ = run_against(silent, 1, timeout_s=0.3)
    assert isinstance(result, PostFailed)
    assert "TimeoutError" in str(result)
    assert time.monotonic() - started < 5


def test_nothing_listening_fails_the_call() -> None:
    async def main() -> None:
        from mlrollout.tracking_server import free_port

        poster = Poster(f"http://127.0.0.1:{free_port()}/mirror", {}, 1)
        with pytest.raises(PostFailed, match=r"ConnectionRefusedError|OSError"):
            await poster.post(b"{}")
        assert not poster.connected

    asyncio.run(main())
