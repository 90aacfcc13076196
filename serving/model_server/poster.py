"""Keep-alive HTTP/1.1 POSTs to one URL: the hot path from a champion to its shadow.

Measured on 2 vCPUs, httpx spends ~0.6 ms of CPU per POST (its pool, anyio and h11, in Python),
more than the champion spends answering the request it mirrors, and on the same event loop:
mirroring every request with it took the champion to 0.41x its throughput (bench/mirror_overhead).
This writes one request and reads one answer on a connection of its own, ~0.02 ms. It needs to
speak only to our model server, which frames every answer with content-length; an answer it
cannot read (chunked, no length, a broken status line) fails the call and drops the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024  # asyncio's default stream limit: a longer head fails the call


class PostFailed(Exception):
    """The request got no readable answer (the connection is dropped)."""


class Poster:
    """POSTs to ``url`` on one connection, opened on first use and after a failure; one call at
    a time (each sender task owns one)."""

    def __init__(self, url: str, headers: dict[str, str], timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname is None:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = parts.scheme == "https"
        fields = {"host": parts.netloc, **headers}
        head = f"POST {parts.path or '/'} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in fields.items()
        )
        self._head = head.encode("latin-1")
        self._timeout_s = timeout_s
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, body: bytes, headers: bytes = b"") -> int:
        """The answer's status code. ``headers``: more header lines, each ending in CRLF."""
        request = b"%bcontent-length: %d\r\n%b\r\n%b" % (self._head, len(body), headers, body)
        try:
            async with asyncio.timeout(self._timeout_s):
                reused = self._stream is not None
                try:
                    return await self._exchange(request)
                except (ConnectionError, asyncio.IncompleteReadError):
                    if not reused:
                        raise
                    # The server closed the idle connection as we reused it: once more, anew.
                    self.close()
                    return await self._exchange(request)
        except (OSError, EOFError, ValueError, IndexError, asyncio.LimitOverrunError) as exc:
            # OSError covers the timeout (TimeoutError), refused and reset connections.
            self.close()
            raise PostFailed(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(self, request: bytes) -> int:
        if self._stream is not None and self._stream[0].at_eof():
            self.close()  # closed by the server since the last call
        if self._stream is None:
            self._stream = await asyncio.open_connection(
                self._host, self._port, ssl=self._tls or None, limit=MAX_HEAD_BYTES
            )
        reader, writer = self._stream
        writer.write(request)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, *lines = head.split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        fields = {}
        for line in lines:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip().lower()
        if "content-length" not in fields:
            raise ValueError("the answer has no content-length")
        await reader.readexactly(int(fields["content-length"]))
        if fields.get("connection") == "close" or status_line.startswith("HTTP/1.0"):
            self.close()
        return status

    @property
    def connected(self) -> bool:
        return self._stream is not None

    def close(self) -> None:
        if self._stream is not None:
            self._stream[1].close()
            self._stream = None

    async def aclose(self) -> None:
        if self._stream is not None:
            writer = self._stream[1]
            self.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
