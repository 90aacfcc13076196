"""`make demo` before the cluster lands: train, serve the champion locally, ask a prediction.

Everything runs as local processes: a small MLflow server on the local store, the training
demo, and the model server on the champion's registered version. Nothing touches Kubernetes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from mlrollout import tracking_server
from mlrollout.training import tracking


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def _http(url: str, body: Any | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _wait_ready(base: str, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the model server exited before it was ready; see its log above")
        try:
            status, body = _http(f"{base}/v2/health/ready")
            if status == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"the model server was not ready after {timeout_s:.0f}s: {body}")


def main() -> None:
    store = tracking.local_store()
    port = 5000 if _port_free(5000) else tracking_server.free_port()
    config = tracking_server.TrackingServerConfig(store, port=port)
    say(f"starting a local MLflow tracking server at {config.url} (store {store})")
    mlflow_process = tracking_server.start(config, store / "mlflow-server.log")
    serving: subprocess.Popen[bytes] | None = None
    try:
        say("training RandomForest, XGBoost and LogisticRegression (quick demo)")
        cli = str(Path(sys.executable).with_name("mlrollout"))
        trained = subprocess.run(
            [cli, "train", "--quick-demo", "--json", "--tracking-uri", config.url],
            stdout=subprocess.PIPE, check=True,
        )  # fmt: skip
        summary = json.loads(trained.stdout)
        champion = summary["champion"]
        if champion is None:
            raise SystemExit("no model met its SLOs, so there is no champion to serve")
        uri = f"models:/{summary['registered_model']}/{champion['version']}"
        server_port = tracking_server.free_port()
        base = f"http://127.0.0.1:{server_port}"
        say(f"serving the champion ({champion['algorithm']}, {uri}) at {base}")
        env = {
            **os.environ, "MLFLOW_TRACKING_URI": config.url, "MODEL_SERVER_MODEL_URI": uri,
            "MODEL_SERVER_HOST": "127.0.0.1", "MODEL_SERVER_PORT": str(server_port),
            "MODEL_SERVER_LOG_LEVEL": "warning",
        }  # fmt: skip
        serving = subprocess.Popen([sys.executable, "-m", "model_server"], env=env)
        _wait_ready(base, serving)
        from sklearn.datasets import load_breast_cancer

        rows = load_breast_cancer().data[:3].tolist()
        status, answer = _http(f"{base}/predict", {"instances": rows})
        say(f"POST {base}/predict with 3 rows → HTTP {status}: {answer}")
        if status != 200:
            raise SystemExit("the prediction failed")
        print(
            "\nThis demo ran locally (no Kubernetes): MLflow, training and the model server as\n"
            "processes. Browse the runs with `.venv/bin/mlrollout mlflow` "
            "(UI at http://127.0.0.1:5000)."
        )
    finally:
        if serving is not None:
            serving.terminate()
            serving.wait(timeout=30)
        tracking_server.stop(mlflow_process)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


if __name__ == "__main__":
    main()
