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
import time
from pathlib import Path
from typing import Any

from mlrollout.testbed import models, promotions, traffic
from mlrollout.testbed.images import image_names, tag_of
from mlrollout.testbed.tools import ROOT, Kube, TestbedError
from promotion_operator.status import MeasurementPhase, PromotionStatus

NAMESPACE = "mlrollout-demo"
RELEASE = "mlrollout"
MODEL = "mlrollout-demo"
TARGET = "churn"
MLFLOW_URI = f"http://{RELEASE}-mlflow.{NAMESPACE}:5000"
# Two replicas, a rollout deadline and live gates a user would start from.
VERIFICATION: dict[str, Any] = {
    "durationSeconds": 10,
    "intervalSeconds": 2,
    "gates": [
        {"metric": "error_rate", "op": "<=", "threshold": 0.01},
        {"metric": "latency_p95_ms", "op": "<=", "threshold": 500},
    ],
}


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def install(kube: Kube, images: dict[str, str]) -> None:
    say(f"installing the chart into {NAMESPACE} (operator + MLflow)")
    kube.kubectl_ok("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "k8s" / "crds"))
    try:
        kube.helm_ok(
            "upgrade", "--install", RELEASE, str(ROOT / "charts" / "mlrollout"),
            "-n", NAMESPACE, "--create-namespace",
            "--set", "crds.install=false", "--set", f"operator.watchNamespaces={{{NAMESPACE}}}",
            "--set", f"operator.image.tag={tag_of(images['operator'])}",
            "--set", f"mlflow.image.tag={tag_of(images['mlflow'])}",
            "--set", "operator.image.pullPolicy=IfNotPresent",
            "--set", "operator.reconcileIntervalSeconds=2",
            "--wait", "--timeout", "3m",
        )  # fmt: skip
    except TestbedError as exc:
        pods = kube.kubectl("get", "pods", "-n", NAMESPACE, "-o", "wide").stdout
        hint = "(images missing? `make images` builds and loads them)"
        raise TestbedError(f"{exc}\n{pods}{hint}") from None


def promote(kube: Kube, body: dict[str, Any]) -> tuple[PromotionStatus, float]:
    """Apply and follow the phases until a verdict; the status and the seconds it took."""
    kube.apply(NAMESPACE, body)
    started = time.monotonic()
    _, status = promotions.wait_for_verdict(
        lambda: kube.get(NAMESPACE, "modelpromotion", TARGET), 300,
        on_change=lambda seconds, line: print(f"    [{seconds:5.1f}s] {line}", flush=True),
        explain=lambda: f"`kubectl -n {NAMESPACE} describe mp {TARGET}` and the operator's log "
                        "say why",
    )  # fmt: skip
    return status, time.monotonic() - started


def run(kube: Kube) -> dict[str, Any]:
    images = image_names()
    install(kube, images)
    from sklearn.datasets import load_breast_cancer

    row = [float(x) for x in load_breast_cancer().data[0]]
    with kube.port_forward(NAMESPACE, f"svc/{RELEASE}-mlflow", 5000) as mlflow_url:
        say("training RandomForest, XGBoost and LogisticRegression into the in-cluster MLflow")
        runs = models.train_demo(mlflow_url, MODEL, show_progress=True)
        run_id = runs["logistic_regression"]["run_id"]
        broken = models.register_unloadable(mlflow_url, MODEL, run_id)
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
    outcomes: list[dict[str, Any]] = []
    served = failed = 0
    for algorithm, version, gates in steps:
        say(f"promoting version {version} ({algorithm})")
        spec = promotions.promotion_spec(
            MODEL, version, images["model-server"], MLFLOW_URI, gates=gates, replicas=2,
            progress_deadline_s=90, verification=VERIFICATION,
        )  # fmt: skip
        with contextlib.ExitStack() as stack:
            if version == broken:  # a client keeps asking the serving target throughout
                url = stack.enter_context(kube.port_forward(NAMESPACE, f"svc/{TARGET}", 80))
                poller = stack.enter_context(traffic.Poller(url, [row], period_s=0.2))
            status, seconds = promote(kube, promotions.promotion(TARGET, spec))
            if version == broken:
                served, failed = poller.ok, len(poller.failures)
        passed = sum(g.phase is MeasurementPhase.SUCCESSFUL for g in status.gates)
        outcomes.append({
            "version": version, "algorithm": algorithm, "verdict": status.current_phase.value,
            "gates": f"{passed}/{len(status.gates)} passed", "seconds": round(seconds, 1),
            "message": status.message or "",
        })  # fmt: skip
    with kube.port_forward(NAMESPACE, f"svc/{TARGET}", 80) as serving_url:
        prediction = traffic.predict(serving_url, [row])
    return {"outcomes": outcomes, "served_during_rollback": served,
            "failed_during_rollback": failed, "prediction": prediction}  # fmt: skip


def report(summary: dict[str, Any], kubeconfig: Path) -> None:
    print()
    print(f"{'version':>7}  {'model':<42} {'verdict':<10} {'gates':<10} {'time':>7}")
    for o in summary["outcomes"]:
        print(f"{o['version']:>7}  {o['algorithm']:<42} {o['verdict']:<10} {o['gates']:<10} "
              f"{o['seconds']:>6.1f}s")  # fmt: skip
        print(f"{'':9}{o['message']}")
    print(f"\nduring the rollback the serving target answered {summary['served_during_rollback']}"
          f" requests, {summary['failed_during_rollback']} failed")  # fmt: skip
    print(f"prediction through the promoted model: {summary['prediction']}")
    print(f"""
look further:
  kubectl --kubeconfig {kubeconfig} -n {NAMESPACE} get modelpromotions
  kubectl --kubeconfig {kubeconfig} -n {NAMESPACE} describe mp {TARGET}
  kubectl --kubeconfig {kubeconfig} -n {NAMESPACE} port-forward svc/{RELEASE}-mlflow 5000
      (then the MLflow UI is at http://127.0.0.1:5000)
  make demo-down   # remove it""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG", ""))
    parser.add_argument("--json", action="store_true", help="also print the summary as JSON")
    args = parser.parse_args()
    kubeconfig = Path(args.kubeconfig)
    try:
        summary = run(Kube(kubeconfig))
    except TestbedError as exc:
        raise SystemExit(f"error: {exc}") from None
    report(summary, kubeconfig)
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
