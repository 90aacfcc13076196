"""`run_dashboard`, the function behind `kubectl mlrollout dashboard`: its wiring against the
fake API server, how it refuses, and how it stops on Ctrl-C with a page still connected."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from mlrollout.dashboard.command import Dashboard, DashboardError
from mlrollout.tracking_server import free_port

from . import samples
from .fake_kube_api import FakeKubeApi

RUN = """
import sys
from kubernetes import client
from mlrollout.dashboard.command import run_dashboard
api = client.ApiClient(client.Configuration(host=sys.argv[1]))
run_dashboard(api, namespace=None, address="127.0.0.1", port=int(sys.argv[2]),
              mlflow_url="http://mlflow.example.test", open_browser=False)
"""


@pytest.fixture
def api() -> Iterator[tuple[FakeKubeApi, str]]:
    fake = FakeKubeApi()
    fake.put(samples.promoted())
    with fake.serving() as url:
        yield fake, url


def test_the_wiring_serves_what_the_api_lists(api: tuple[FakeKubeApi, str]) -> None:
    fake, url = api
    dashboard = Dashboard(fake.api_client(url), namespace=None, address="127.0.0.1", port=0,
                          mlflow_url="http://mlflow.example.test")  # fmt: skip
    with dashboard.in_thread() as served:
        deadline = time.monotonic() + 10
        while not (listed := httpx.get(f"{served}api/promotions", timeout=5).json())["promotions"]:
            assert time.monotonic() < deadline, listed
            time.sleep(0.05)
        assert [p["phase"] for p in listed["promotions"]] == ["Promoted"]
        assert listed["promotions"][0]["links"]["run"].startswith("http://mlflow.example.test/#/")
        assert listed["health"]["connected"] is True
        # On a loopback address it answers only to loopback names (no DNS rebinding).
        for host, code in (("localhost", 200), ("127.0.0.1", 200), ("attacker.example", 400)):
            answer = httpx.get(f"{served}healthz", headers={"Host": host}, timeout=5)
            assert answer.status_code == code, host


def test_a_port_in_use_is_refused_with_what_to_do(api: tuple[FakeKubeApi, str]) -> None:
    fake, url = api
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DashboardError, match=rf"cannot listen on 127.0.0.1:{port} .*--port"):
            Dashboard(fake.api_client(url), namespace=None, address="127.0.0.1", port=port,
                      mlflow_url=None)  # fmt: skip


def test_ctrl_c_stops_it_at_once_with_a_page_connected(api: tuple[FakeKubeApi, str]) -> None:
    _, url = api
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", RUN, url, str(port)], stderr=subprocess.PIPE, text=True
    )
    try:
        said = process.stderr.readline() if process.stderr else ""
        assert f"http://127.0.0.1:{port}/" in said, said
        assert "all namespaces" in said
        with httpx.stream("GET", f"http://127.0.0.1:{port}/api/stream", timeout=10) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: snapshot"
            interrupted = time.monotonic()
            process.send_signal(signal.SIGINT)
            assert all(line in ("", ": heartbeat") or line.startswith(("retry:", "data:"))
                       for line in lines)  # the stream ends cleanly  # fmt: skip
        code = process.wait(10)
        took = time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
    assert code == 0
    assert took < 2, f"{took:.1f} s: open streams were not ended on Ctrl-C"
