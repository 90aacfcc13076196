"""The real `python -m model_server` process for tests: start it, wait for it, talk to it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import orjson
from prometheus_client.parser import text_string_to_metric_families

from mlrollout.tracking_server import free_port


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    sent = {"content-type": "application/json", **(headers or {})}
    req = urllib.request.Request(url, data=data, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


def start_server(
    model: str | Path, env: dict[str, str] | None = None, log: IO[bytes] | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    """The server on ``model``, on a free loopback port, with ``env`` on top; its output piped
    (read it once it exits) or into ``log``. Returns its base URL and the process."""
    port = free_port()
    server_env = {"MODEL_SERVER_MODEL_URI": str(model), "MODEL_SERVER_PORT": str(port),
                  "MODEL_SERVER_HOST": "127.0.0.1", **(env or {})}  # fmt: skip
    return f"http://127.0.0.1:{port}", subprocess.Popen(
        [sys.executable, "-m", "model_server"],
        env={**os.environ, **server_env},
        stdout=subprocess.PIPE if log is None else log,
        stderr=subprocess.STDOUT,
    )


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            if get(f"{base}/v2/health/ready")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise AssertionError("server never became ready")


def metric(base: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` with ``labels`` on the server's /metrics (0 if none)."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def eventually(check: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    """Poll ``check`` until it holds; fail saying ``what`` did not happen in time."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.05)
