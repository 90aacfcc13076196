"""`make demo`: the whole story on the test cluster, in one command.

Installs the chart (operator + in-cluster MLflow) into `mlrollout-demo`, trains the three demo
models into that MLflow, then walks one serving target through three promotions: the
RandomForest version is promoted, an XGBoost version held to an accuracy it cannot reach is
rejected, and a version whose model cannot load is rolled back while RandomForest keeps serving.
Re-running is safe (each run registers new versions); `make demo-down` removes it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from mlrollout.demo.kube import ROOT, DemoError, Kube

NAMESPACE = "mlrollout-demo"
RELEASE = "mlrollout"
MODEL = "mlrollout-demo"
TARGET = "churn"
MLFLOW_URI = f"http://{RELEASE}-mlflow.{NAMESPACE}:5000"
CONCLUDED = {"Promoted", "Rejected", "RolledBack", "Failed"}


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def _images() -> dict[str, str]:
    names = subprocess.run(["bash", str(ROOT / "hack" / "images.sh"), "names"],
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    return {name.split("/")[1].split(":")[0]: name for name in names}


def install(kube: Kube, images: dict[str, str]) -> None:
    say(f"installing the chart into {NAMESPACE} (operator + MLflow)")
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f",
                 str(ROOT / "k8s" / "crds"))  # fmt: skip
    tag = {name: image.rsplit(":", 1)[1] for name, image in images.items()}
    try:
        kube.helm(
            "upgrade", "--install", RELEASE, str(ROOT / "charts" / "mlrollout"),
            "--create-namespace",
            "--set", "crds.install=false", "--set", f"operator.watchNamespaces={{{NAMESPACE}}}",
            "--set", f"operator.image.tag={tag['mlrollout-operator']}",
            "--set", f"mlflow.image.tag={tag['mlrollout-mlflow']}",
            "--set", "operator.image.pullPolicy=IfNotPresent",
            "--set", "operator.reconcileIntervalSeconds=2",
            "--wait", "--timeout", "3m",
        )  # fmt: skip
    except DemoError as exc:
        pods = kube.kubectl("get", "pods", "-o", "wide", check=False)
        raise DemoError(
            f"{exc}\n{pods}(images missing? `make images` builds and loads them)"
        ) from None


def train(mlflow_url: str) -> dict[str, dict[str, Any]]:
    say("training RandomForest, XGBoost and LogisticRegression into the in-cluster MLflow")
    cli = Path(sys.executable).with_name("mlrollout")
    result = subprocess.run(
        [str(cli), "train", "--quick-demo", "--json", "--tracking-uri", mlflow_url,
         "--registered-model", MODEL],
        stdout=subprocess.PIPE, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise DemoError("training failed; its error is above")
    return {run["algorithm"]: run for run in json.loads(result.stdout)["runs"]}


def register_unloadable(mlflow_url: str, run_id: str) -> str:
    """A version with good metrics whose model files do not exist (a broken upload)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_url, registry_uri=mlflow_url)
    source = f"{client.get_run(run_id).info.artifact_uri}/model-that-was-never-uploaded"
    return str(client.create_model_version(MODEL, source, run_id=run_id).version)


def spec(version: str, image: str, gates: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "mlrollout.dev/v1alpha1",
        "kind": "ModelPromotion",
        "metadata": {"name": TARGET, "namespace": NAMESPACE},
        "spec": {
            "model": {"name": MODEL, "version": version},
            "mlflow": {"trackingUri": MLFLOW_URI},
            "gates": gates,
            "serving": {"image": image, "replicas": 2,
                        "resources": {"requests": {"cpu": "50m", "memory": "200Mi"}}},
            "rollout": {
                "progressDeadlineSeconds": 90,
                "verification": {"durationSeconds": 10, "intervalSeconds": 2, "gates": [
                    {"metric": "error_rate", "op": "<=", "threshold": 0.01},
                    {"metric": "latency_p95_ms", "op": "<=", "threshold": 500}]},
            },
            "promotion": {"alias": "production"},
        },
    }  # fmt: skip


def promote(
    kube: Kube, body: dict[str, Any], timeout_s: float = 300
) -> tuple[dict[str, Any], float]:
    """Apply and follow the phases until a verdict; returns the status and the seconds taken."""
    version = body["spec"]["model"]["version"]
    kube.apply(body)
    started, last = time.monotonic(), ""
    while time.monotonic() - started < timeout_s:
        status = kube.get("modelpromotion", TARGET).get("status") or {}
        current = (status.get("candidate") or {}).get("version") == version
        line = f"{status.get('phase')}: {status.get('message')}" if current else "Pending"
        if line != last:
            print(f"    [{time.monotonic() - started:5.1f}s] {line}", flush=True)
            last = line
        if current and status.get("phase") in CONCLUDED:
            return status, time.monotonic() - started
        time.sleep(1)
    raise DemoError(
        f"version {version} reached no verdict in {timeout_s:.0f}s: "
        f"`kubectl -n {NAMESPACE} describe mp {TARGET}` and the operator's log say why"
    )


def _post(url: str, body: Any) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


class Poller(threading.Thread):
    """Asks the serving target for predictions while a broken version is rolled out."""

    def __init__(self, url: str, row: list[float]) -> None:
        super().__init__(daemon=True)
        self.url, self.row = url, row
        self.ok = self.failed = 0
        self.stop = threading.Event()

    def __enter__(self) -> Poller:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.join(timeout=5)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                _post(f"{self.url}/predict", {"instances": [self.row]})
                self.ok += 1
            except (urllib.error.URLError, OSError):
                self.failed += 1
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""))
    parser.add_argument("--json", action="store_true", help="also print the summary as JSON")
    args = parser.parse_args()
    kube = Kube(args.kubeconfig, NAMESPACE)
    images = _images()
    install(kube, images)
    from sklearn.datasets import load_breast_cancer

    row = [float(x) for x in load_breast_cancer().data[0]]
    outcomes: list[dict[str, Any]] = []
    with kube.port_forward(f"svc/{RELEASE}-mlflow", 5000) as mlflow_url:
        runs = train(mlflow_url)
        broken = register_unloadable(mlflow_url, runs["logistic_regression"]["run_id"])
    image = images["mlrollout-model-server"]
    steps = [
        ("random_forest", runs["random_forest"]["version"],
         [{"metric": "accuracy", "op": ">=", "threshold": 0.9},
          {"metric": "latency_p95_ms", "op": "<=", "threshold": 200}]),
        ("xgboost", runs["xgboost"]["version"],
         [{"metric": "accuracy", "op": ">=", "threshold": 0.995},
          {"metric": "accuracy", "op": ">=", "baseline": "production", "tolerance": -0.01}]),
        ("logistic_regression (model files missing)", broken,
         [{"metric": "accuracy", "op": ">=", "threshold": 0.9}]),
    ]  # fmt: skip
    served = failed = 0
    for algorithm, version, gates in steps:
        say(f"promoting version {version} ({algorithm})")
        with contextlib.ExitStack() as stack:
            if version == broken:  # a client keeps asking the serving target throughout
                url = stack.enter_context(kube.port_forward(f"svc/{TARGET}", 80))
                poller = stack.enter_context(Poller(url, row))
            status, seconds = promote(kube, spec(version, image, gates))
            if version == broken:
                served, failed = poller.ok, poller.failed
        gate_list = status.get("gates", [])
        passed = sum(1 for g in gate_list if g.get("phase") == "Successful")
        outcomes.append({
            "version": version, "algorithm": algorithm, "verdict": status["phase"],
            "gates": f"{passed}/{len(gate_list)} passed", "seconds": round(seconds, 1),
            "message": status.get("message", ""),
        })  # fmt: skip

    print()
    print(f"{'version':>7}  {'model':<42} {'verdict':<10} {'gates':<10} {'time':>7}")
    for o in outcomes:
        print(f"{o['version']:>7}  {o['algorithm']:<42} {o['verdict']:<10} {o['gates']:<10} "
              f"{o['seconds']:>6.1f}s")  # fmt: skip
        print(f"{'':9}{o['message']}")
    print(f"\nduring the rollback the serving target answered {served} requests, {failed} failed")
    with kube.port_forward(f"svc/{TARGET}", 80) as serving_url:
        prediction = _post(f"{serving_url}/predict", {"instances": [row]})
    print(f"prediction through the promoted model: {prediction}")
    print(f"""
look further:
  kubectl --kubeconfig {args.kubeconfig} -n {NAMESPACE} get modelpromotions
  kubectl --kubeconfig {args.kubeconfig} -n {NAMESPACE} describe mp {TARGET}
  kubectl --kubeconfig {args.kubeconfig} -n {NAMESPACE} port-forward svc/{RELEASE}-mlflow 5000
      (then the MLflow UI is at http://127.0.0.1:5000)
  make demo-down   # remove it""")
    if args.json:
        print(json.dumps({"outcomes": outcomes, "served_during_rollback": served,
                          "failed_during_rollback": failed, "prediction": prediction}))  # fmt: skip


if __name__ == "__main__":
    main()
