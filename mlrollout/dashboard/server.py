"""Serving the dashboard's app with uvicorn: on the caller's thread (the command, until Ctrl-C)
or on a thread of its own (the tests). The socket is bound first, so port 0 works and a port
in use is reported before anything else starts."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn
from starlette.applications import Starlette

# Open streams never end by themselves: give them this long, then cancel them, on shutdown.
SHUTDOWN_GRACE_S = 2


class PortUnavailable(Exception):
    """The address and port cannot be bound; the message says which and what to do."""


class DashboardServer:
    """``on_exit`` runs when shutdown starts (it ends the open streams, e.g. `feed.close`)."""

    def __init__(
        self, app: Starlette, address: str, port: int, on_exit: Callable[[], None] = lambda: None
    ) -> None:
        self.socket = _bind(address, port)
        host, bound = self.socket.getsockname()[:2]
        self.url = f"http://{_url_host(host)}:{bound}/"
        self._on_exit = on_exit
        config = uvicorn.Config(
            app, log_level="warning", timeout_graceful_shutdown=SHUTDOWN_GRACE_S, lifespan="off"
        )
        self._server = _Server(config, on_exit)

    def run(self) -> None:
        """Serve until Ctrl-C (uvicorn handles the signal on the main thread)."""
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self.socket.close()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[str]:
        """Serve on a thread of its own while the block runs; yields the URL once it answers."""
        thread = threading.Thread(target=self.run, name="dashboard-server", daemon=True)
        thread.start()
        try:
            while not self._server.started:
                if not thread.is_alive():
                    raise RuntimeError("the dashboard server stopped while starting")
                thread.join(0.02)
            yield self.url
        finally:
            self._on_exit()
            self._server.should_exit = True
            thread.join(SHUTDOWN_GRACE_S + 5)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler may interrupt a holder of the feed's lock: run on_exit elsewhere.
        threading.Thread(target=self._on_exit, name="dashboard-exit", daemon=True).start()
        super().handle_exit(sig, frame)


def _bind(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if _is_ipv6(address) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError as exc:
        sock.close()
        raise PortUnavailable(
            f"cannot listen on {address}:{port} ({exc.strerror}): pass another --port "
            "(0 picks a free one) or --address"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _is_ipv6(address: str) -> bool:
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(address).version == 6
    return False


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):  # every interface: this machine's own name opens it
        return "localhost"
    return f"[{host}]" if ":" in host else host
