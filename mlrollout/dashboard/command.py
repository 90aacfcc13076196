"""`kubectl mlrollout dashboard`: serve the dashboard on this machine until Ctrl-C.

`Dashboard` wires the pieces (the user's API client → source → feed → app → server); the
command serves it on the main thread, the e2e tests on a thread of their own, so both run the
same wiring against a real cluster.
"""

from __future__ import annotations

import contextlib
import ipaddress
import sys
import webbrowser
from collections.abc import Iterator

from kubernetes import client

from .app import LOOPBACK_HOSTS, create_app
from .feed import PromotionFeed
from .kube_source import DashboardError, KubernetesSource
from .server import DashboardServer, PortUnavailable

__all__ = ["Dashboard", "DashboardError", "run_dashboard"]


class Dashboard:
    """Checks that the user may list the promotions and binds the port when made (raising
    DashboardError, with what to do, if not); serves when asked."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        namespace: str | None,
        address: str,
        port: int,
        mlflow_url: str | None,
    ) -> None:
        self.source = KubernetesSource(api_client, namespace)
        self.source.check_access()
        self.feed = PromotionFeed(mlflow_url)
        hosts = LOOPBACK_HOSTS if is_loopback(address) else ("*",)
        try:
            self.server = DashboardServer(
                create_app(self.feed, allowed_hosts=hosts), address, port, on_exit=self.feed.close
            )
        except PortUnavailable as exc:
            raise DashboardError(str(exc)) from None

    @property
    def url(self) -> str:
        return self.server.url

    def serve_forever(self) -> None:
        """Until Ctrl-C (on the main thread: uvicorn handles the signal)."""
        self.source.start(self.feed)
        try:
            self.server.run()
        finally:
            self.feed.close()
            self.source.stop()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[str]:
        """Serve while the block runs; yields the URL."""
        self.source.start(self.feed)
        try:
            with self.server.in_thread() as url:
                yield url
        finally:
            self.feed.close()
            self.source.stop()


def run_dashboard(
    api_client: client.ApiClient,
    *,
    namespace: str | None,
    address: str,
    port: int,
    mlflow_url: str | None,
    open_browser: bool,
) -> None:
    """Serve the ModelPromotions the user may list (in ``namespace``, or in all namespaces when
    None) at http://address:port/ until Ctrl-C, then return. Raises DashboardError, saying what
    to do, when the user may not list them, the API is unreachable or the port cannot be bound."""
    dashboard = Dashboard(
        api_client, namespace=namespace, address=address, port=port, mlflow_url=mlflow_url
    )
    sys.stderr.write(
        f"Dashboard of the ModelPromotions in {dashboard.source.scope}: {dashboard.url}\n"
        "(read-only, through your kubeconfig; Ctrl-C stops it)\n"
    )
    if not is_loopback(address):
        sys.stderr.write(
            f"warning: listening on {address}: whoever reaches this port sees what your "
            "credentials may read\n"
        )
    if open_browser:
        webbrowser.open(dashboard.url)
    # uvicorn raises the Ctrl-C again once it has shut down: here it is the normal way out.
    with contextlib.suppress(KeyboardInterrupt):
        dashboard.serve_forever()


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
