"""The servers under test: how to start each on a model, where to send what, how much memory.

Every server gets one worker process, listens on loopback, and is measured with the same
generator. Ours and MLServer speak the Open Inference Protocol v2 with the same request bytes;
`mlflow models serve` takes its own `/invocations` body.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import processes
from mlrollout.tracking_server import free_port

from .models import BenchModel


@dataclass(frozen=True)
class Running:
    base: str
    pid: int

    def rss_mb(self) -> float:
        """Resident memory of the server and every process under it (workers), in MiB."""
        return sum(s.rss_mb for s in processes.tree_samples(self.pid))

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=5) as resp:
            return str(resp.read().decode())


@dataclass(frozen=True)
class Server:
    label: str
    path: Callable[[BenchModel], str]  # where inference requests go
    body: Callable[[BenchModel, int], bytes]  # a request of n rows
    start: Callable[[BenchModel, int, Path], tuple[list[str], dict[str, str], Path]]
    ready_path: Callable[[BenchModel], str]


def v2_body(model: BenchModel, n_rows: int) -> bytes:
    rows = model.rows[:n_rows]
    tensor = {"name": "input-0", "datatype": "FP64", "shape": list(rows.shape),
              "data": rows.reshape(-1).tolist()}  # fmt: skip
    return json.dumps({"inputs": [tensor]}).encode()


def mlflow_body(model: BenchModel, n_rows: int) -> bytes:
    split = {"columns": model.columns, "data": model.rows[:n_rows].tolist()}
    return json.dumps({"dataframe_split": split}).encode()


def _ours(model: BenchModel, port: int, _: Path) -> tuple[list[str], dict[str, str], Path]:
    env = {"MODEL_SERVER_MODEL_URI": str(model.mlflow_dir), "MODEL_SERVER_MODEL_NAME": model.name,
           "MODEL_SERVER_PORT": str(port), "MODEL_SERVER_HOST": "127.0.0.1",
           "MODEL_SERVER_LOG_LEVEL": "warning"}  # fmt: skip
    return [sys.executable, "-m", "model_server"], env, Path.cwd()


def _mlserver(
    tuned: bool,
) -> Callable[[BenchModel, int, Path], tuple[list[str], dict[str, str], Path]]:
    def start(model: BenchModel, port: int, tools: Path) -> tuple[list[str], dict[str, str], Path]:
        folder = model.mlserver_tuned_dir if tuned else model.mlserver_dir
        settings = {"http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
                    "host": "127.0.0.1"}  # fmt: skip
        if tuned:
            # Inference in the server process: no hop to a worker process per request.
            settings["parallel_workers"] = 0
        (folder / "settings.json").write_text(json.dumps(settings))
        return [str(tools / "mlserver"), "start", str(folder)], {}, folder

    return start


def _mlflow(model: BenchModel, port: int, _: Path) -> tuple[list[str], dict[str, str], Path]:
    mlflow = Path(sys.executable).with_name("mlflow")
    argv = [str(mlflow), "models", "serve", "-m", str(model.mlflow_dir), "--env-manager",
            "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip
    # It starts `uvicorn` from the PATH: the one beside this interpreter.
    path = f"{mlflow.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return argv, {"PATH": path}, Path.cwd()


OURS = Server("ours", lambda m: f"/v2/models/{m.name}/infer", v2_body, _ours,
              lambda m: "/v2/health/ready")  # fmt: skip
SERVERS = {
    "ours": OURS,
    "mlserver": Server("mlserver (as trained)", OURS.path, v2_body, _mlserver(tuned=False),
                       lambda m: f"/v2/models/{m.name}/ready"),
    "mlserver-tuned": Server("mlserver (n_jobs=1, in-process)", OURS.path, v2_body,
                             _mlserver(tuned=True), lambda m: f"/v2/models/{m.name}/ready"),
    "mlflow": Server("mlflow models serve", lambda m: "/invocations", mlflow_body, _mlflow,
                     lambda m: "/ping"),
}  # fmt: skip


@contextlib.contextmanager
def running(
    server: Server,
    model: BenchModel,
    tools: Path,
    log: Path,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Running]:
    """``server`` on ``model``, on ``port`` (a free one by default), ready; stopped on exit."""
    port = port or free_port()
    argv, env, cwd = server.start(model, port, tools)
    env = {**env, **(extra_env or {})}
    with log.open("ab") as sink:
        process = subprocess.Popen(
            argv, env={**os.environ, **env}, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + server.ready_path(model), process, server.label, log)
        yield Running(base, process.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def wait_ready(url: str, process: subprocess.Popen[Any], label: str, log: Path) -> None:
    """Until ``url`` answers 200; exits naming ``log`` if the process dies or never answers."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{label} exited with {process.returncode} at start; see {log}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=2) as resp,
        ):
            if resp.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"{label} never became ready at {url}; see {log}")
